//! Decoding a flow-mod allocates per message part (the match's entry list, the instruction
//! list, each action list), never per match field or per action: a counting allocator
//! checks that 2 and 10 OXM fields cost the same number of allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ferrovs::ofp::syntax::parse_flow;
use ferrovs::ofp::{decode, Message, Version};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn encoded(flow: &str) -> Vec<u8> {
    let fm = parse_flow(flow, Version::V1_3, 0).expect("parses");
    let mut out = Vec::new();
    Message::FlowMod(fm)
        .encode(Version::V1_3, 1, &mut out)
        .expect("encodes");
    out
}

fn allocs_to_decode(bytes: &[u8]) -> usize {
    let before = ALLOCS.load(Ordering::Relaxed);
    let m = decode(bytes).expect("decodes");
    let n = ALLOCS.load(Ordering::Relaxed) - before;
    drop(m);
    n
}

#[test]
fn decode_allocates_per_message_not_per_field() {
    let small = encoded("tcp,actions=output:1,output:2,output:3,output:4,output:5");
    let big = encoded(
        "in_port=1,dl_src=00:00:00:00:00:01,dl_dst=00:00:00:00:00:02,tcp,nw_src=10.0.0.0/8,\
         nw_dst=10.1.2.3,tp_src=1000,tp_dst=80,reg0=5,actions=mod_dl_dst:aa:bb:cc:dd:ee:ff,\
         mod_nw_dst:10.0.0.1,set_queue:1,resubmit(,1),output:2",
    );
    let a = allocs_to_decode(&small);
    let b = allocs_to_decode(&big);
    // Entry list, instruction list, one action list.
    assert_eq!(a, 3);
    assert_eq!(b, 3);
}
