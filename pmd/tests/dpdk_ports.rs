//! DPDK in-process: a port probed while a PMD runs, handed to the PMD over
//! its command ring, used, taken back, and removed, with every mbuf back
//! in the pool at the end. EAL runs with `--no-pci` and `net_ring` devices.
//!
//! EAL can be initialised once per process, so this binary holds a single
//! test that walks through every step in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::command::{Command, CommandOp, PmdChannels, Reply, ReplyBody};
use pmd::eal::{Eal, EalArgs, MemoryMode};
use pmd::emc::Emc;
use pmd::fastpath::FastPath;
use pmd::flow::{FlowTable, PutFlags};
use pmd::lcore;
use pmd::mbuf::MbufBatch;
use pmd::mempool::Mempool;
use pmd::odp::parse_flow;
use pmd::pmd::Pmd;
use pmd::port::{Port, PortError, TxQueue};
use pmd::stats::PmdStats;
use pmd::txq::PmdTxQueue;

/// A distinct 60-byte frame per index.
fn frame(i: usize) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14..18].copy_from_slice(&(i as u32).to_be_bytes());
    f
}

/// Sends frames `range` on `txq` (a `net_ring` loops them back to its rx).
fn send(pool: &Mempool, txq: &mut TxQueue, range: std::ops::Range<usize>) {
    let mut batch = MbufBatch::new();
    for i in range {
        let f = frame(i);
        let mut m = pool.alloc().expect("mbuf");
        m.append(f.len() as u16).expect("room").copy_from_slice(&f);
        if let Err(m) = batch.push(m) {
            while !batch.is_empty() {
                txq.tx_burst(&mut batch);
            }
            assert!(batch.push(m).is_ok());
        }
    }
    while !batch.is_empty() {
        txq.tx_burst(&mut batch);
    }
}

/// Waits until `cond` holds.
fn wait(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn ports_come_and_go_while_the_pmd_runs() {
    let mut args = EalArgs::new(vec![0, 1]);
    args.memory = Some(MemoryMode::NoHuge);
    args.no_huge_mb = 256;
    args.file_prefix = format!("pmd-ports-test-{}", std::process::id());
    args.vdevs = vec!["net_ring0".into()];
    let built = args.build();
    assert!(built.contains(&"--no-pci".to_string()));
    let eal = Eal::init(&built).expect("EAL init");
    let pool = Mempool::new("ports_pool", 4095).expect("mempool");
    let full = pool.available();

    // Port 1 (net_ring0, probed by the EAL): the PMD polls it; the test
    // sends into it. The PMD's tables start with room for ports 0 and 1.
    let mut p1 = Port::by_name("net_ring0").expect("net_ring0");
    p1.configure(1, 1, &pool).expect("configure p1");
    p1.start().expect("start p1");
    let (mut rx1, mut tx1) = p1.queues();
    let mut tx1 = tx1.remove(0);
    let stats = Arc::new(PmdStats::new(4));
    let stop = Arc::new(AtomicBool::new(false));
    let channels = PmdChannels::new(0).expect("rings");
    let pmd = Pmd {
        id: 0,
        rxqs: vec![(1, rx1.remove(0))],
        txqs: vec![None, None],
        fastpath: FastPath::new(FlowTable::default(), Emc::default()),
        channels: channels.clone(),
        stats: stats.clone(),
        stop: stop.clone(),
    };
    let handle = lcore::launch(lcore::workers()[0], move || pmd.run()).expect("launch");
    // A failed assertion must stop the PMD, or unwinding waits for it.
    let _stop_on_panic = StopOnDrop(stop.clone());
    let mut seq = 0;
    let mut call = |op: CommandOp| -> ReplyBody {
        seq += 1;
        call(&channels, seq, op).body
    };
    for line in [
        "in_port(1),eth_type(0x0800), actions:3",
        "in_port(3),eth_type(0x0800), actions:",
    ] {
        let flow = parse_flow(line).expect("flow");
        let put = CommandOp::Put {
            ufid: None,
            key: flow.key,
            mask: flow.mask,
            actions: Arc::from(flow.actions),
            flags: PutFlags::CREATE,
        };
        assert!(matches!(call(put), ReplyBody::Put(Ok(_))));
    }

    // Before port 3 exists, what goes to it is dropped.
    send(&pool, &mut tx1, 0..10);
    wait("10 drops", || stats.dropped.get() == 10);

    // Probe net_ring5 at run time; a second probe of it is refused.
    let mut p3 = Port::probe("net_ring5").expect("probe net_ring5");
    let again = Port::probe("net_ring5").expect_err("probed twice");
    assert!(matches!(
        &again,
        PortError::Probe { devargs, reason }
            if devargs == "net_ring5" && reason == "a device of that name exists already"
    ));
    assert!(matches!(
        Port::probe("net_nosuchdriver0"),
        Err(PortError::Probe { .. })
    ));
    p3.configure(1, 1, &pool).expect("configure p3");
    p3.start().expect("start p3");
    let (mut rx3, tx3) = p3.queues();
    let mut rx3 = rx3.remove(0);
    let handles = PmdTxQueue::distribute(tx3, 1);

    // Port 3 is beyond the PMD's tables: they grow. Send only at first.
    let add = CommandOp::AddPort {
        port: 3,
        rxqs: Vec::new(),
        txq: handles.first().cloned(),
    };
    assert!(matches!(call(add), ReplyBody::PortAdded(true)));
    send(&pool, &mut tx1, 10..30);
    let mut got = Vec::new();
    let mut batch = MbufBatch::new();
    wait("20 frames on port 3", || {
        stats.ports[3].tx_packets.get() == 20
    });
    while got.len() < 20 {
        rx3.rx_burst(&mut batch);
        got.extend(batch.drain().map(|m| m.data().to_vec()));
    }
    assert_eq!(got, (10..30).map(frame).collect::<Vec<_>>());
    assert_eq!(stats.ports[3].tx_bytes.get(), 20 * 60);

    // Deleted: nothing more is sent on it.
    assert!(matches!(
        call(CommandOp::DelPort { port: 3 }),
        ReplyBody::PortDeleted
    ));
    send(&pool, &mut tx1, 30..35);
    wait("5 more drops", || stats.dropped.get() == 15);
    assert_eq!(rx3.rx_burst(&mut batch), 0);

    // Back with its rx queue this time: its counters start from zero, and
    // what loops back in on port 3 is received (and dropped by its flow).
    let add = CommandOp::AddPort {
        port: 3,
        rxqs: vec![rx3],
        txq: handles.first().cloned(),
    };
    assert!(matches!(call(add), ReplyBody::PortAdded(true)));
    assert_eq!(stats.ports[3].tx_packets.get(), 0);
    send(&pool, &mut tx1, 35..42);
    wait("7 frames back in on port 3", || {
        stats.ports[3].rx_packets.get() == 7
    });
    assert_eq!(stats.ports[3].tx_packets.get(), 7);

    // A port beyond the counters is refused, and nothing changes.
    let add = CommandOp::AddPort {
        port: 4,
        rxqs: Vec::new(),
        txq: None,
    };
    assert!(matches!(call(add), ReplyBody::PortAdded(false)));

    // Deleted again: the PMD no longer polls its rx queue. Frames put in
    // the ring behind its back stay there.
    assert!(matches!(
        call(CommandOp::DelPort { port: 3 }),
        ReplyBody::PortDeleted
    ));
    let dropped = stats.dropped.get();
    let mut tx3 = p3.queues().1.remove(0);
    send(&pool, &mut tx3, 100..103);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(stats.ports[3].rx_packets.get(), 7, "polled after DelPort");
    assert_eq!(stats.dropped.get(), dropped);
    // Those 3 are the ring's; the test takes them back itself.
    let mut rx3 = p3.queues().0.remove(0);
    assert_eq!(rx3.rx_burst(&mut batch), 3);
    batch.free_all();

    stop.store(true, Ordering::Relaxed);
    assert_eq!(handle.join(), 0);
    drop(handles);
    drop(channels);
    p3.close_and_remove().expect("close and remove net_ring5");
    // Removed: the same devargs probe again.
    let p3 = Port::probe("net_ring5").expect("probe net_ring5 again");
    p3.close_and_remove().expect("remove net_ring5 again");
    p1.close().expect("close p1");
    assert_eq!(pool.available(), full, "every mbuf is back in the pool");
    drop(pool);
    drop(eal);
}

/// Sets the PMD's stop flag when dropped.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Sends one command and waits for its reply.
fn call(channels: &PmdChannels, seq: u64, op: CommandOp) -> Box<Reply> {
    assert!(channels
        .commands
        .enqueue(Box::new(Command { seq, op }))
        .is_ok());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(r) = channels.replies.dequeue() {
            assert_eq!(r.seq, seq);
            return r;
        }
        assert!(Instant::now() < deadline, "no reply to command {seq}");
        std::thread::sleep(Duration::from_micros(100));
    }
}
