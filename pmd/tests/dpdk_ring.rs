//! DPDK in-process: EAL with `net_ring` ports, a PMD forwarding between them.
//!
//! EAL can be initialised once per process, so this binary holds a single
//! test that walks through every step in order.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pmd::eal::{Eal, EalArgs, EalError, MemoryMode};
use pmd::lcore;
use pmd::mbuf::MbufBatch;
use pmd::mempool::Mempool;
use pmd::pmd::{PatchTable, Pmd};
use pmd::port::Port;
use pmd::ring::Ring;
use pmd::stats::PmdStats;
use pmd::txq::PmdTxQueue;

const N: usize = 500;

/// A distinct frame per index: UDP/IPv4 with the index in the source port
/// and in the payload, with lengths that vary.
fn frame(i: usize) -> Vec<u8> {
    let mut f = vec![0u8; 60 + (i % 7) * 50];
    f[..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x02]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    for (k, b) in f[14..].iter_mut().enumerate() {
        *b = (i.wrapping_mul(31) + k) as u8;
    }
    f[14..18].copy_from_slice(&(i as u32).to_be_bytes());
    f
}

#[test]
fn eal_ports_rings_and_forwarding() {
    let mut args = EalArgs::new(vec![0, 1]);
    args.memory = Some(MemoryMode::NoHuge);
    args.no_huge_mb = 256;
    args.file_prefix = format!("pmd-test-{}", std::process::id());
    args.vdevs = vec!["net_ring0".into(), "net_ring1".into()];
    let built = args.build();
    assert!(built.contains(&"--no-pci".to_string()));
    let eal = Eal::init(&built).expect("EAL init");

    // A second init is an error, not a crash.
    assert!(matches!(
        Eal::init(&built),
        Err(EalError::AlreadyInitialized)
    ));

    let pool = Mempool::new("test_pool", 4095).expect("mempool");
    let full = pool.available();
    assert_eq!(full, 4095);

    // A typed ring keeps order, refuses when full, and frees what it holds.
    let ring: Ring<Box<u64>> = Ring::new("test_ring", 8).expect("ring");
    let mut items: Vec<Box<u64>> = (0..10).map(Box::new).collect();
    assert_eq!(ring.enqueue_burst(&mut items), 7);
    assert_eq!(items.iter().map(|b| **b).collect::<Vec<_>>(), [7, 8, 9]);
    let mut got = Vec::new();
    assert_eq!(ring.dequeue_burst(&mut got, 64), 7);
    assert_eq!(
        got.iter().map(|b| **b).collect::<Vec<_>>(),
        [0, 1, 2, 3, 4, 5, 6]
    );
    assert!(ring.enqueue(Box::new(42)).is_ok());
    drop(ring);

    let mut p0 = Port::by_name("net_ring0").expect("net_ring0");
    let mut p1 = Port::by_name("net_ring1").expect("net_ring1");
    assert!(Port::by_name("net_ring9").is_err());
    p0.configure(1, 1, &pool).expect("configure p0");
    p1.configure(1, 1, &pool).expect("configure p1");
    p0.start().expect("start p0");
    p1.start().expect("start p1");
    assert!(p0.link().expect("link").up);
    assert_eq!(p0.mac().expect("mac").len(), 6);
    assert!(!p0.xstats().expect("xstats").is_empty());

    // Port numbers: p0 is 1, p1 is 2. The PMD polls p0 and sends to p1;
    // the test sends on p0 (net_ring loops tx back to rx) and reads p1.
    let (mut rx0, mut tx0) = p0.queues();
    let (mut rx1, tx1) = p1.queues();
    let mut tx0 = tx0.remove(0);
    let mut rx1 = rx1.remove(0);
    let stats = Arc::new(PmdStats::new(3));
    let stop = Arc::new(AtomicBool::new(false));
    let mut patch = PatchTable::new(3);
    patch.connect(1, 2);
    let mut txqs = vec![None, None, None];
    txqs[2] = PmdTxQueue::distribute(tx1, 1).pop();
    let pmd = Pmd {
        id: 0,
        rxqs: vec![(1, rx0.remove(0))],
        txqs,
        patch,
        stats: stats.clone(),
        stop: stop.clone(),
    };
    let worker = lcore::workers()[0];
    let handle = lcore::launch(worker, move || pmd.run()).expect("launch");

    let mut sent = 0;
    while sent < N {
        let mut batch = MbufBatch::new();
        while sent < N && !batch.is_full() {
            let f = frame(sent);
            let mut m = pool.alloc().expect("mbuf");
            m.append(f.len() as u16).expect("room").copy_from_slice(&f);
            assert!(batch.push(m).is_ok(), "room in batch");
            sent += 1;
        }
        while !batch.is_empty() {
            tx0.tx_burst(&mut batch);
        }
    }

    let mut received: Vec<Vec<u8>> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut batch = MbufBatch::new();
    while received.len() < N && Instant::now() < deadline {
        rx1.rx_burst(&mut batch);
        received.extend(batch.drain().map(|m| m.data().to_vec()));
    }
    stop.store(true, Ordering::Relaxed);
    assert_eq!(handle.join(), 0);

    assert_eq!(received.len(), N, "every packet came out");
    for (i, r) in received.iter().enumerate() {
        assert_eq!(r, &frame(i), "packet {i} byte for byte");
    }
    assert_eq!(stats.ports[1].rx_packets.get(), N as u64);
    assert_eq!(stats.ports[2].tx_packets.get(), N as u64);
    assert_eq!(stats.ports[2].tx_dropped.get(), 0);
    let expect_bytes: u64 = (0..N).map(|i| frame(i).len() as u64).sum();
    assert_eq!(stats.ports[2].tx_bytes.get(), expect_bytes);
    assert_eq!(p1.stats().expect("stats").tx_packets, N as u64);

    p0.close().expect("close p0");
    p1.close().expect("close p1");
    // Every mbuf is back in the pool.
    assert_eq!(pool.available(), full);
    drop(pool);
    drop(eal);
}
