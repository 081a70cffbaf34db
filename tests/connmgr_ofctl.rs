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

/// `ovs-ofctl monitor` sets miss_send_len and prints the packet-ins and port-status it gets.
#[test]
fn monitor_receives_async_messages() {
    use ferrovs::connmgr::{AsyncEvent, PacketInEvent};
    use ferrovs::ofp::OxmMatch;
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    let sw = Switch::start(ptcp_config());
    let target = format!("tcp:127.0.0.1:{}", sw.tcp_port());
    // monitor runs a control server; keep its socket out of /var/run.
    let unixctl = format!(
        "--unixctl={}",
        std::env::temp_dir()
            .join(format!("ferrovs-monitor-{}.ctl", std::process::id()))
            .display()
    );
    let mut child = Command::new("timeout")
        .args([
            "10",
            "ovs-ofctl",
            "-O",
            "OpenFlow13",
            &unixctl,
            "monitor",
            &target,
            "100",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ovs-ofctl monitor starts");
    sw.wait_for(5, "monitor's SET_CONFIG", |s| {
        s.conns.iter().any(|(i, _)| i.miss_send_len == 100)
    });
    let mut packet = vec![0xff; 6];
    packet.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x08, 0x06]);
    packet.resize(60, 0);
    sw.events
        .send(AsyncEvent::PacketIn(PacketInEvent {
            reason: 0,
            table_id: 0,
            cookie: 0,
            in_port: 1,
            metadata: OxmMatch::default(),
            max_len: None,
            packet,
            controller_id: 0,
            userdata: None,
            continuation: None,
        }))
        .unwrap();
    sw.events
        .send(AsyncEvent::PortStatus {
            reason: 0,
            desc: local_port(),
        })
        .unwrap();
    sw.wait_for(5, "both messages sent", |s| {
        s.conns
            .iter()
            .any(|(_, st)| st.msgs_out.get(&12) == Some(&1))
    });
    std::thread::sleep(Duration::from_millis(200));
    drop(sw);
    // monitor prints what it receives on stderr; it asks for NXT_PACKET_IN2 packet-ins.
    let mut out = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let _ = child.wait();
    assert!(
        out.contains(
            "NXT_PACKET_IN2 (OF1.3) (xid=0x0): cookie=0x0 total_len=60 in_port=1 (via no_match) data_len=60 (unbuffered)\n\
             arp,vlan_tci=0x0000,dl_src=02:00:00:00:00:01,dl_dst=ff:ff:ff:ff:ff:ff,arp_spa=0.0.0.0,arp_tpa=0.0.0.0,arp_op=0,arp_sha=00:00:00:00:00:00,arp_tha=00:00:00:00:00:00\n"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "OFPT_PORT_STATUS (OF1.3) (xid=0x0): ADD: LOCAL(br0): addr:aa:bb:cc:dd:ee:ff\n     \
             config:     0\n     \
             state:      0\n     \
             speed: 0 Mbps now, 0 Mbps max\n"
        ),
        "{out}"
    );
}
