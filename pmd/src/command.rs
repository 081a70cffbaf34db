//! Messages between the control lcore and a PMD, and the rings that carry
//! them.
//!
//! Vocabulary: a *command* asks one PMD to change or report its flows (the
//! dpif operations: put, del, flush, dump, execute) or its ports (add a port's
//! queues, stop polling and sending on a port) and carries a sequence number;
//! the PMD answers every command with one *reply* carrying the same number,
//! after the change is in effect for every later packet. An *upcall* goes the
//! other way with a packet the control side must see.
//!
//! Port changes travel as commands so that a PMD's queues change only
//! between bursts: [`CommandOp::AddPort`] moves a port's rx queues and this
//! PMD's tx handle into the PMD; the reply to [`CommandOp::DelPort`] means the
//! PMD sent what it had buffered for the port and will never touch the port
//! again, so the control side may stop and close it.
//!
//! Each PMD has four single-producer single-consumer rings ([`PmdChannels`]):
//! commands (control to PMD), replies (PMD to control), upcalls (PMD to
//! control) and recycled upcall boxes (control to PMD). Upcalls travel in
//! boxes the PMD allocates once at start and the control side hands back
//! after use, so a miss costs no allocation, and a PMD whose control side is
//! slow runs out of boxes and counts lost upcalls instead of growing.
//!
//! Who calls it: the control lcore builds commands and consumes replies and
//! upcalls (`src/dpif.rs`); the PMD loop ([`crate::pmd`]) does the rest.
//! Rings never block: a full ring refuses, and the sender decides (the
//! control side reports "busy", the PMD drops and counts).

use std::sync::Arc;

use crate::actions::DpAction;
use crate::flow::{DpFlow, DpifError, DumpCursor, PutFlags, PutOutcome};
use crate::key::{FlowKey, FlowMask};
use crate::mbuf::Mbuf;
use crate::pmd::PortNo;
use crate::port::RxQueue;
use crate::ring::{Ring, RingError};
use crate::txq::PmdTxQueue;

/// A request to one PMD.
pub struct Command {
    /// Echoed in the reply.
    pub seq: u64,
    /// What to do.
    pub op: CommandOp,
}

/// The operations a PMD performs for the control side.
pub enum CommandOp {
    /// dpif `flow_put`.
    Put {
        /// The flow's id; `None` derives it from key and mask.
        ufid: Option<u128>,
        /// The key (masked by `mask` on install).
        key: FlowKey,
        /// The mask.
        mask: FlowMask,
        /// The actions; empty = drop.
        actions: Arc<[DpAction]>,
        /// CREATE / MODIFY / ZERO_STATS.
        flags: PutFlags,
    },
    /// dpif `flow_del`, by ufid when given, else by key and mask.
    Del {
        /// The flow's id, if the client named it.
        ufid: Option<u128>,
        /// The key.
        key: FlowKey,
        /// The mask.
        mask: FlowMask,
    },
    /// dpif `flow_flush`: delete every flow.
    Flush,
    /// Copy up to `max` flows from `cursor` (one chunk of a dump).
    Dump {
        /// Where to continue.
        cursor: DumpCursor,
        /// Most flows in the reply.
        max: usize,
    },
    /// dpif `execute`: run `actions` on `pkt` as if received on `in_port`.
    Execute {
        /// The packet.
        pkt: Mbuf,
        /// The input port it is taken to come from.
        in_port: u32,
        /// What to do with it.
        actions: Arc<[DpAction]>,
    },
    /// Report table sizes; also a barrier: the reply means every earlier
    /// command is in effect.
    Status,
    /// Several operations applied in order in one go, between two rx
    /// bursts, with one reply ([`ReplyBody::Batch`]): how the control side
    /// sends a drain's executes, puts and releases to a PMD.
    Batch(Vec<CommandOp>),
    /// Ends the hold of a flow put with [`crate::hold::hold_actions`]:
    /// replaces its actions with `actions`, but only if every upcall the
    /// hold (or a miss before the hold) may have sent up for it is among the
    /// first `drained` upcalls of this PMD, which the control side has taken
    /// and whose executes it queued before this command. Otherwise the flow
    /// stays held (its packets park in the PMD) and the reply says so; the
    /// control side asks again after its next drain. See [`crate::hold`].
    Release {
        /// The held flow.
        ufid: u128,
        /// Its key (masked) and mask.
        key: FlowKey,
        /// The mask.
        mask: FlowMask,
        /// The flow's real actions.
        actions: Arc<[DpAction]>,
        /// How many of this PMD's upcalls the control side has taken.
        drained: u64,
    },
    /// Start sending on datapath port `port` through `txq`, and polling the
    /// rx queues in `rxqs` (often none: a port's rx queues go to one PMD,
    /// its tx handles to every PMD). The port's counters start from zero.
    AddPort {
        /// The datapath port number.
        port: PortNo,
        /// Rx queues this PMD is to poll.
        rxqs: Vec<RxQueue>,
        /// This PMD's handle on one of the port's tx queues; `None` for a
        /// port without tx queues.
        txq: Option<PmdTxQueue>,
    },
    /// Send what is buffered for `port`, then drop its rx queues and tx
    /// handle. Deleting a port this PMD does not have is not an error.
    DelPort {
        /// The datapath port number.
        port: PortNo,
    },
}

/// A PMD's answer to one [`Command`].
pub struct Reply {
    /// The command's `seq`.
    pub seq: u64,
    /// The answering PMD.
    pub pmd: usize,
    /// The outcome.
    pub body: ReplyBody,
}

/// Outcomes, one per [`CommandOp`].
// Replies travel boxed, so the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum ReplyBody {
    /// Of `Put`.
    Put(Result<PutOutcome, DpifError>),
    /// Of `Del`: the deleted flow with its final stats.
    Del(Result<DpFlow, DpifError>),
    /// Of `Flush`: how many flows were deleted.
    Flushed(usize),
    /// Of `Dump`.
    Dump {
        /// The chunk.
        flows: Vec<DpFlow>,
        /// Where the next chunk starts; `None` when the dump is done.
        next: Option<DumpCursor>,
        /// The PMD's clock when it copied the chunk (for `used:`).
        now_ms: u64,
    },
    /// Of `Execute`.
    Executed,
    /// Of `Batch`: one outcome per operation, in order.
    Batch(Vec<ReplyBody>),
    /// Of `Release`: whether the flow now has its real actions.
    Released(Result<bool, DpifError>),
    /// Of `AddPort`: false when `port` is beyond the PMD's per-port tables
    /// (the queues were dropped, nothing changed).
    PortAdded(bool),
    /// Of `DelPort`.
    PortDeleted,
    /// Of `Status`.
    Status {
        /// Live flows.
        n_flows: usize,
        /// Classifier subtables (`n_masks`).
        n_subtables: usize,
        /// The PMD's clock.
        now_ms: u64,
    },
}

/// Why a packet went up.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UpcallType {
    /// No flow matched (`DPIF_UC_MISS`).
    Miss,
    /// A `userspace` action ran (`DPIF_UC_ACTION`).
    Action,
}

/// A packet for the control side, in a recycled box.
pub struct Upcall {
    /// Miss or action.
    pub kind: UpcallType,
    /// The packet; `None` only while the box is spare.
    pub pkt: Option<Mbuf>,
    /// The key the PMD extracted (after any actions that ran before).
    pub key: FlowKey,
    /// The port the packet came in on.
    pub in_port: u32,
    /// The PMD that sent it.
    pub pmd: usize,
    /// How many upcalls the PMD queued before this one (its number).
    pub seq: u64,
    /// The TSC when the PMD queued it, so the handler can measure how long
    /// each upcall waited and took (the upcall latency histogram).
    pub queued_tsc: u64,
    /// The `userspace` action's cookie (0 for a miss).
    pub cookie: u64,
    /// The `userspace` action's extra bytes (empty for a miss). Its
    /// capacity is kept across uses, so it allocates only for userdata
    /// longer than any seen before on this box.
    pub userdata: Vec<u8>,
}

/// Room reserved for userdata in each upcall box.
pub const UPCALL_USERDATA_ROOM: usize = 64;

impl Upcall {
    /// An empty box for the PMD's pool.
    pub fn spare(pmd: usize) -> Box<Upcall> {
        Box::new(Upcall {
            kind: UpcallType::Miss,
            pkt: None,
            key: FlowKey::default(),
            in_port: 0,
            pmd,
            seq: 0,
            queued_tsc: 0,
            cookie: 0,
            userdata: Vec::with_capacity(UPCALL_USERDATA_ROOM),
        })
    }
}

/// A wake-up signal from a PMD to the control lcore: an eventfd the PMD
/// writes after an iteration that queued upcalls (one syscall per such
/// iteration, never per packet), so that the control lcore can sleep in
/// `poll` and still start on a new flow within microseconds.
pub struct Doorbell {
    fd: libc::c_int,
}

impl Doorbell {
    fn new() -> Result<Doorbell, RingError> {
        // SAFETY: eventfd takes no pointers; a negative result is an error.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(RingError::Doorbell(std::io::Error::last_os_error()));
        }
        Ok(Doorbell { fd })
    }

    /// Wakes the control lcore. A full counter (never in practice) or any
    /// other failure only costs latency: the control lcore also wakes on
    /// its own timer.
    pub fn ring(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own eventfd.
        let _ = unsafe { libc::write(self.fd, (&one as *const u64).cast(), 8) };
    }

    /// The descriptor to wait on (readable after [`Doorbell::ring`]).
    pub fn fd(&self) -> libc::c_int {
        self.fd
    }

    /// Resets the signal after a wake-up.
    pub fn clear(&self) {
        let mut n: u64 = 0;
        // SAFETY: reads 8 bytes into a live u64 from our own non-blocking
        // eventfd; EAGAIN (nothing rung) is fine.
        let _ = unsafe { libc::read(self.fd, (&mut n as *mut u64).cast(), 8) };
    }
}

impl Drop for Doorbell {
    fn drop(&mut self) {
        // SAFETY: the descriptor is ours and closed exactly once.
        unsafe { libc::close(self.fd) };
    }
}

/// The four rings of one PMD, and its doorbell.
pub struct PmdChannels {
    /// Control to PMD.
    pub commands: Ring<Box<Command>>,
    /// PMD to control.
    pub replies: Ring<Box<Reply>>,
    /// PMD to control.
    pub upcalls: Ring<Box<Upcall>>,
    /// Control to PMD: upcall boxes to reuse.
    pub recycle: Ring<Box<Upcall>>,
    /// PMD to control: "upcalls are waiting".
    pub doorbell: Doorbell,
}

/// Ring sizes (powers of two; each holds one less).
pub const COMMAND_RING_SIZE: u32 = 256;
/// Upcalls queued at most per PMD; also the size of its upcall box pool.
pub const UPCALL_RING_SIZE: u32 = 1024;

impl PmdChannels {
    /// The rings of PMD `pmd` (names are unique per PMD in the process).
    pub fn new(pmd: usize) -> Result<Arc<PmdChannels>, RingError> {
        Ok(Arc::new(PmdChannels {
            commands: Ring::new(&format!("fvs_cmd{pmd}"), COMMAND_RING_SIZE)?,
            replies: Ring::new(&format!("fvs_rep{pmd}"), COMMAND_RING_SIZE)?,
            upcalls: Ring::new(&format!("fvs_upc{pmd}"), UPCALL_RING_SIZE)?,
            recycle: Ring::new(&format!("fvs_rcy{pmd}"), UPCALL_RING_SIZE)?,
            doorbell: Doorbell::new()?,
        }))
    }
}
