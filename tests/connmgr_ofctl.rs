//! ovs-ofctl, a client we did not write, against connmgr's service listeners.

mod connmgr_common;

use connmgr_common::*;
use ferrovs::connmgr::ConnmgrConfig;

#[test]
fn show_over_ptcp() {
    let sw = Switch::start(ptcp_config());
    let target = format!("tcp:127.0.0.1:{}", sw.tcp_port());
    let (ok, out, err) = ofctl(&["-O", "OpenFlow13", "show", &target]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "OFPT_FEATURES_REPLY (OF1.3) (xid=0x2): dpid:0000000000000abc\n\
         n_tables:254, n_buffers:0\n\
         capabilities: FLOW_STATS TABLE_STATS PORT_STATS GROUP_STATS QUEUE_STATS\n\
         OFPST_PORT_DESC reply (OF1.3) (xid=0x3):\n \
         LOCAL(br0): addr:aa:bb:cc:dd:ee:ff\n     \
         config:     0\n     \
         state:      0\n     \
         speed: 0 Mbps now, 0 Mbps max\n\
         OFPT_GET_CONFIG_REPLY (OF1.3) (xid=0x5): frags=normal miss_send_len=0\n"
    );
}

#[test]
fn dump_flows_over_ptcp() {
    let sw = Switch::start(ptcp_config());
    let target = format!("tcp:127.0.0.1:{}", sw.tcp_port());
    let (ok, out, err) = ofctl(&["-O", "OpenFlow13", "dump-flows", &target]);
    assert!(ok, "{err}");
    assert_eq!(
        out,
        "OFPST_FLOW reply (OF1.3) (xid=0x2):\n \
         cookie=0x0, duration=1.500s, table=0, n_packets=3, n_bytes=180, priority=100,in_port=1 actions=output:2\n"
    );
}

#[test]
fn show_over_punix() {
    let dir = std::env::temp_dir().join(format!("ferrovs-connmgr-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("br0.mgmt");
    let sw = Switch::start(ConnmgrConfig {
        listeners: vec![format!("punix:{}", path.display()).parse().unwrap()],
        ..ConnmgrConfig::default()
    });
    let target = format!("unix:{}", path.display());
    let (ok, out, err) = ofctl(&["show", &target]);
    drop(sw);
    assert!(ok, "{err}");
    // OpenFlow 1.0 this time: the version follows what ovs-ofctl offers.
    assert_eq!(
        out,
        "OFPT_FEATURES_REPLY (xid=0x2): dpid:0000000000000abc\n\
         n_tables:254, n_buffers:0\n\
         capabilities: FLOW_STATS TABLE_STATS PORT_STATS STP QUEUE_STATS\n \
         LOCAL(br0): addr:aa:bb:cc:dd:ee:ff\n     \
         config:     0\n     \
         state:      0\n     \
         speed: 0 Mbps now, 0 Mbps max\n\
         OFPT_GET_CONFIG_REPLY (xid=0x4): frags=normal miss_send_len=0\n"
    );
    assert!(
        !path.exists(),
        "the socket file is removed with the listener"
    );
}
