//! Micro-benchmarks of the datapath building blocks (PERF.md): packet
//! parsing (the general walk and the PMD's fresh-key fast path) and key
//! hashing, EMC hits, megaflow classifier lookups against 1, 10 and 100
//! subtables, action execution, and a whole PMD burst through
//! [`FastPath::process`]. No DPDK: packets are `VecPacket`s recycled by the
//! sink, so what is measured is the pipeline itself.
//!
//! Run with `cargo bench --bench datapath`; a quick pass with
//! `cargo bench --bench datapath -- --quick`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use pmd::actions::{execute, ActionSink, DpAction, PacketBuf, VecPacket};
use pmd::emc::Emc;
use pmd::fastpath::{DatapathSink, FastPath, UpcallKind};
use pmd::flow::{FlowRef, FlowTable, PutFlags};
use pmd::key::{FieldId, FlowKey, FlowMask};
use pmd::odp::{parse_actions, parse_flow};
use pmd::parse::{parse, parse_fresh, ParseInfo};
use pmd::stats::PmdStats;

const BURST: usize = 32;

/// A 64-byte UDP/IPv4 frame (60 bytes without FCS), distinct per `i`.
fn udp64(i: u32) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4((10u32 << 24 | i).to_be_bytes(), [172, 16, 0, 1], 64)
        .udp(1024 + (i % 60000) as u16, 5001);
    let mut out = Vec::new();
    b.write(&mut out, &[0u8; 18]).unwrap();
    out
}

fn bench_parse(c: &mut Criterion) {
    let frame = udp64(1);
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(1));
    g.bench_function("udp64", |b| {
        b.iter(|| {
            let mut key = FlowKey::default();
            let info = parse(black_box(&frame), 1, &mut key);
            black_box((key, info))
        })
    });
    // What the PMD runs per received packet: the whole key overwritten,
    // untagged IPv4/UDP taking the one-length-check fast path.
    g.bench_function("udp64_fresh", |b| {
        let mut key = FlowKey::default();
        let mut info = ParseInfo::default();
        b.iter(|| {
            parse_fresh(black_box(&frame), 1, &mut key, &mut info);
            black_box((&key, &info));
        })
    });
    // The EMC hash of the parsed key (zero tail: 5 multiplies).
    let mut key = FlowKey::default();
    parse(&frame, 1, &mut key);
    g.bench_function("hash_ipv4_key", |b| b.iter(|| black_box(&key).hash()));
    g.finish();
}

fn bench_emc(c: &mut Criterion) {
    let mut flows = FlowTable::default();
    let f = parse_flow("in_port(1),eth_type(0x0800), actions:2").unwrap();
    let r = flows
        .put(
            None,
            &f.key,
            &f.mask,
            Arc::from(f.actions),
            PutFlags::CREATE,
        )
        .unwrap()
        .flow;
    let mut emc = Emc::default();
    let keys: Vec<(FlowKey, u32)> = (0..BURST as u32)
        .map(|i| {
            let mut k = FlowKey::default();
            parse(&udp64(i), 1, &mut k);
            (k, k.hash())
        })
        .collect();
    for (k, h) in &keys {
        emc.insert(k, *h, r);
    }
    let mut g = c.benchmark_group("emc");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("hit_burst32", |b| {
        b.iter(|| {
            let mut hits = 0;
            for (k, h) in &keys {
                hits += emc.lookup(k, *h, &flows).is_some() as u32;
            }
            black_box(hits)
        })
    });
    g.finish();
}

/// `n` subtables on in_port 1, one flow each; the masks differ in the
/// ipv4_src prefix length and the tp_dst mask, and every mask matches
/// tp_src exactly so flow `j` (tp_src = j) overlaps no other.
fn classifier(n: usize) -> (FlowTable, Vec<FlowKey>) {
    let tp_dst_masks = [0u128, 0xffff, 0xff00, 0x00ff];
    let mut table = FlowTable::default();
    let mut keys = Vec::new();
    for j in 0..n {
        let prefix = 1 + (j % 32) as u32;
        let mut mask = FlowMask::default();
        mask.set_exact(FieldId::InPort);
        mask.set_exact(FieldId::EthType);
        mask.set_exact(FieldId::IpProto);
        mask.set_exact(FieldId::TpSrc);
        mask.set(FieldId::Ipv4Src, u128::from(u32::MAX << (32 - prefix)));
        mask.set(FieldId::TpDst, tp_dst_masks[j / 32 % 4]);
        let mut key = FlowKey::default();
        key.set_in_port(1);
        key.set_eth_type(0x0800);
        key.set_ip_proto(17);
        key.set_tp_src(j as u16);
        key.set_tp_dst(5001);
        key.set(FieldId::Ipv4Src, 0x0a00_0001);
        let actions: Arc<[DpAction]> = Arc::from(vec![DpAction::Output(2)]);
        table
            .put(None, &key, &mask, actions, PutFlags::CREATE)
            .unwrap();
        keys.push(key);
    }
    // A burst whose packets hit subtables spread over the whole table.
    let burst = (0..BURST).map(|i| keys[(i * 7) % n]).collect();
    (table, burst)
}

fn bench_dpcls(c: &mut Criterion) {
    let mut g = c.benchmark_group("dpcls");
    g.throughput(Throughput::Elements(BURST as u64));
    for n in [1usize, 10, 100] {
        let (mut table, keys) = classifier(n);
        let mut out: [Option<FlowRef>; BURST] = [None; BURST];
        assert_eq!(table.dpcls().n_subtables(), n);
        g.bench_with_input(BenchmarkId::new("lookup_burst32", n), &n, |b, _| {
            b.iter(|| {
                table.lookup_batch(black_box(&keys), &mut out);
                black_box(out[BURST - 1])
            })
        });
    }
    g.finish();
}

/// Keeps the last packet so the next iteration reuses it.
struct Keep(Option<VecPacket>);

impl ActionSink<VecPacket> for Keep {
    fn output(&mut self, _port: u32, pkt: VecPacket) {
        self.0 = Some(pkt);
    }
    fn userspace(&mut self, _c: u64, _u: &[u8], pkt: VecPacket, _k: &FlowKey) {
        self.0 = Some(pkt);
    }
    fn recirc(&mut self, _id: u32, pkt: VecPacket, _k: &FlowKey) {
        self.0 = Some(pkt);
    }
    fn drop(&mut self, pkt: VecPacket) {
        self.0 = Some(pkt);
    }
}

fn bench_actions(c: &mut Criterion) {
    let frame = udp64(1);
    let mut g = c.benchmark_group("actions");
    g.throughput(Throughput::Elements(1));
    for (name, text) in [
        ("output", "2"),
        ("set_ipv4_dst_output", "set(ipv4(dst=192.168.0.1)),2"),
        (
            "set_push_pop_vlan_output",
            "set(ipv4(dst=192.168.0.1,ttl=63)),push_vlan(vid=10,pcp=0),pop_vlan,2",
        ),
    ] {
        let actions = parse_actions(text).unwrap();
        let mut sink = Keep(Some(VecPacket::new(&frame)));
        let mut key = FlowKey::default();
        parse(&frame, 1, &mut key);
        g.bench_function(name, |b| {
            b.iter(|| {
                let pkt = sink.0.take().unwrap();
                let mut k = key;
                execute(black_box(&actions), pkt, &mut k, &mut sink);
            })
        });
        black_box(sink.0.as_ref().map(|p| p.data().len()));
    }
    g.finish();
}

/// Hands every packet back for the next burst.
struct Recycle(Vec<VecPacket>);

impl DatapathSink<VecPacket> for Recycle {
    fn output(&mut self, _port: u32, pkt: VecPacket) {
        self.0.push(pkt);
    }
    fn upcall(
        &mut self,
        _k: UpcallKind<'_>,
        pkt: VecPacket,
        _key: &FlowKey,
    ) -> Result<(), VecPacket> {
        self.0.push(pkt);
        Ok(())
    }
    fn drop(&mut self, pkt: VecPacket) {
        self.0.push(pkt);
    }
}

fn bench_fastpath(c: &mut Criterion) {
    let mut g = c.benchmark_group("fastpath");
    g.throughput(Throughput::Elements(BURST as u64));
    // EMC hits (32 flows' worth of packets, one megaflow), megaflow hits
    // (EMC insertion disabled by a 1-in-2^32 probability), and the
    // simple-match path (the port's only flow matches just in_port).
    let l4 = "in_port(1),eth_type(0x0800),ipv4(proto=17), actions:2";
    for (name, emc_inv_prob, line) in [
        ("burst32_emc_hit", 1u32, l4),
        ("burst32_megaflow_hit", u32::MAX, l4),
        ("burst32_simple_match", 1, "in_port(1), actions:2"),
    ] {
        let mut fp: FastPath<VecPacket> =
            FastPath::new(FlowTable::default(), Emc::new(8192, emc_inv_prob));
        let f = parse_flow(line).unwrap();
        fp.flows
            .put(
                None,
                &f.key,
                &f.mask,
                Arc::from(f.actions),
                PutFlags::CREATE,
            )
            .unwrap();
        let stats = PmdStats::new(3);
        let mut sink = Recycle(
            (0..BURST as u32)
                .map(|i| VecPacket::new(&udp64(i)))
                .collect(),
        );
        let mut burst = Vec::with_capacity(BURST);
        g.bench_function(name, |b| {
            b.iter(|| {
                burst.append(&mut sink.0);
                fp.process(1, burst.drain(..), &stats, &mut sink);
            })
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    bench_parse,
    bench_emc,
    bench_dpcls,
    bench_actions,
    bench_fastpath
);
criterion_main!(benches);
