//! OpenFlow codec micro-benchmark: decode and re-encode a flow-mod with 10 OXM match
//! fields and 5 actions (OpenFlow 1.3), the shape of a typical controller-installed flow.
//! Run: cargo bench --bench ofp_codec

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrovs::ofp::syntax::parse_flow;
use ferrovs::ofp::{decode, Message, Version};

/// in_port, eth_src, eth_dst, eth_type, ipv4_src, ipv4_dst, ip_proto, tcp_src, tcp_dst,
/// reg0; set eth_dst, set ipv4_dst, set_queue, resubmit, output.
pub const FLOW: &str = "priority=100,in_port=1,dl_src=00:00:00:00:00:01,\
    dl_dst=00:00:00:00:00:02,tcp,nw_src=10.0.0.0/8,nw_dst=10.1.2.3,tp_src=1000,tp_dst=80,\
    reg0=5,actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,mod_nw_dst:10.0.0.1,set_queue:1,\
    resubmit(,1),output:2";

fn flow_mod_bytes() -> Vec<u8> {
    let fm = parse_flow(FLOW, Version::V1_3, 0).expect("benchmark flow parses");
    let mut out = Vec::new();
    Message::FlowMod(fm)
        .encode(Version::V1_3, 1, &mut out)
        .expect("benchmark flow encodes");
    out
}

fn bench(c: &mut Criterion) {
    let bytes = flow_mod_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    c.bench_function("ofp13_flow_mod_decode_encode_10oxm_5act", |b| {
        b.iter(|| {
            let (h, m) = decode(black_box(&bytes)).expect("decodes");
            out.clear();
            m.encode(Version::V1_3, h.xid, &mut out).expect("encodes");
            black_box(&out);
        })
    });
    c.bench_function("ofp13_flow_mod_decode_10oxm_5act", |b| {
        b.iter(|| black_box(decode(black_box(&bytes)).expect("decodes")))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
