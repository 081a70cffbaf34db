//! The per-packet path allocates nothing: a counting global allocator
//! watches the PMD pipeline ([`pmd::fastpath::FastPath::process`]) run many
//! bursts of EMC hits, megaflow hits, misses, set/push/pop actions and
//! recirculations, with packets recycled by the sink instead of freed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use pmd::actions::VecPacket;
use pmd::emc::Emc;
use pmd::fastpath::{DatapathSink, FastPath, UpcallKind};
use pmd::flow::{FlowTable, PutFlags};
use pmd::key::FlowKey;
use pmd::odp::parse_flow;
use pmd::stats::PmdStats;

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Only allocations made by the measuring thread count; the test
    // harness's own threads allocate whenever they like.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards every call to the system allocator unchanged; counting
// is a relaxed atomic add and a thread-local read, neither of which
// allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.with(Cell::get) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Hands every packet back to the pool the test draws bursts from.
struct Recycle {
    pool: Vec<VecPacket>,
    outputs: u64,
    upcalls: u64,
    drops: u64,
}

impl DatapathSink<VecPacket> for Recycle {
    fn output(&mut self, _port: u32, pkt: VecPacket) {
        self.outputs += 1;
        self.pool.push(pkt);
    }
    fn upcall(
        &mut self,
        _kind: UpcallKind<'_>,
        pkt: VecPacket,
        _key: &FlowKey,
    ) -> Result<(), VecPacket> {
        self.upcalls += 1;
        self.pool.push(pkt);
        Ok(())
    }
    fn drop(&mut self, pkt: VecPacket) {
        self.drops += 1;
        self.pool.push(pkt);
    }
}

fn frame(udp_dst: u16) -> Vec<u8> {
    let b = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .udp(1000, udp_dst);
    let mut out = Vec::new();
    b.write(&mut out, &[0u8; 18]).unwrap();
    out
}

#[test]
fn steady_state_bursts_allocate_nothing() {
    let mut fp: FastPath<VecPacket> = FastPath::new(FlowTable::default(), Emc::new(8192, 100));
    for line in [
        // Set a field the flow does not match on, then push and pop a tag:
        // the packet comes out as it went in, so recycling keeps keys stable.
        "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(dst=1), actions:set(ipv4(src=10.0.0.1,ttl=64)),push_vlan(vid=10,pcp=0),pop_vlan,2",
        "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(dst=2), actions:drop",
        "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(dst=3), actions:recirc(0x5)",
        "recirc_id(0x5),in_port(1), actions:3",
        "in_port(1),eth_type(0x0800),ipv4(proto=17),udp(dst=4), actions:userspace(pid=0,userdata(0000000000000009))",
    ] {
        let f = parse_flow(line).unwrap();
        fp.flows
            .put(f.ufid, &f.key, &f.mask, Arc::from(f.actions), PutFlags::CREATE)
            .unwrap();
    }
    let stats = PmdStats::new(4);
    // 32 packets: 8 per flow kind, plus misses (udp dst 5..) mixed in.
    let frames: Vec<Vec<u8>> = (0..32u16).map(|i| frame(1 + i % 6)).collect();
    let mut sink = Recycle {
        pool: frames.iter().map(|f| VecPacket::new(f)).collect(),
        outputs: 0,
        upcalls: 0,
        drops: 0,
    };
    sink.pool.reserve(64);
    let mut burst: Vec<VecPacket> = Vec::with_capacity(64);

    // Warm up: the EMC fills, the classifier ranks its subtables.
    let mut run = |fp: &mut FastPath<VecPacket>, sink: &mut Recycle, rounds: u64| {
        for r in 0..rounds {
            fp.set_now_ms(r);
            burst.append(&mut sink.pool);
            fp.process(1, burst.drain(..), &stats, sink);
        }
    };
    run(&mut fp, &mut sink, 2000);

    ALLOCATIONS.store(0, Ordering::Relaxed);
    ARMED.with(|a| a.set(true));
    let rounds = 20_000u64;
    run(&mut fp, &mut sink, rounds);
    ARMED.with(|a| a.set(false));

    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed), 0);
    assert_eq!(sink.pool.len(), 32);
    // Every packet was accounted for: 22000 rounds of 32.
    let total = 22_000 * 32;
    assert_eq!(
        stats.emc_hits.get() + stats.megaflow_hits.get() + stats.misses.get(),
        total + stats.recirculations.get()
    );
    assert!(stats.emc_hits.get() > total / 2, "{}", stats.emc_hits.get());
    // udp dst 5 and 6 have no flow: 2 of every 6 kinds miss.
    assert!(stats.misses.get() > 0);
}
