//! Coverage counters: how often interesting events happened, and how often lately.
//!
//! A *counter* is a named event count (`ofproto_flow_mod`, `vlog_suppressed`, …) declared once
//! here as a static and bumped where the event happens with one relaxed atomic add, from any
//! thread. [`run`], called from the control lcore's loop, takes a *sample* every
//! [`SAMPLE_INTERVAL`] (5 s) so that `ovs-appctl coverage/show` can print, per counter, its
//! average rate over the last 5 seconds, the last minute and the last hour, and its total, in
//! the shape Open vSwitch users know. Counters that never fired are only counted at the end.
//!
//! Invariants: counters only grow; the history holds the last 12 five-second deltas (one
//! minute) and the last 60 one-minute sums (one hour), so its memory is fixed. A loop that
//! stalls for longer than a sample interval catches up with samples of the missed intervals
//! (the whole delta lands in the first, as nobody knows when it happened).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often [`run`] samples the counters.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(5);
/// Five-second samples per minute.
const SAMPLES_PER_MINUTE: usize = 12;
/// Minutes per hour.
const MINUTES_PER_HOUR: usize = 60;

/// One event counter.
#[derive(Debug)]
pub struct Counter {
    name: &'static str,
    total: AtomicU64,
}

impl Counter {
    const fn new(name: &'static str) -> Counter {
        Counter {
            name,
            total: AtomicU64::new(0),
        }
    }

    /// Counts one event.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Counts `n` events.
    pub fn add(&self, n: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
    }

    /// Events counted since the process started.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// The counter's name, as `coverage/show` prints it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// Declares each counter as a static and lists them all in [`COUNTERS`], so a counter cannot
/// exist without being shown.
macro_rules! counters {
    ($($(#[$doc:meta])* $ident:ident = $name:literal;)*) => {
        $($(#[$doc])* pub static $ident: Counter = Counter::new($name);)*
        /// Every counter, in the order `coverage/show` prints them.
        pub static COUNTERS: &[&Counter] = &[$(&$ident,)*];
    };
}

counters! {
    /// An OpenFlow message received on an established connection.
    OFCONN_RECEIVED = "ofconn_received";
    /// An OpenFlow request answered with an OFPT_ERROR.
    OFCONN_ERROR_REPLY = "ofconn_error_reply";
    /// A flow_mod from a controller (carried out or refused).
    OFPROTO_FLOW_MOD = "ofproto_flow_mod";
    /// A packet-out from a controller (carried out or refused).
    OFPROTO_PACKET_OUT = "ofproto_packet_out";
    /// A flow translated through the OpenFlow tables (an upcall or a revalidation).
    XLATE_ACTIONS = "xlate_actions";
    /// A MAC address learned (new, moved to another port, or back after ageing out).
    MAC_LEARNING_LEARNED = "mac_learning_learned";
    /// A MAC learning entry that aged out.
    MAC_LEARNING_EXPIRED = "mac_learning_expired";
    /// A control-socket request answered.
    UNIXCTL_RECEIVED = "unixctl_received";
    /// A log line a rate limit kept out of the log.
    VLOG_SUPPRESSED = "vlog_suppressed";
}

/// Per-counter history, oldest first in each ring.
struct History {
    next_sample: Option<Instant>,
    /// Totals at the last sample, per counter.
    last_totals: Vec<u64>,
    /// Delta of each of the last 12 samples, per counter.
    samples: Vec<[u64; SAMPLES_PER_MINUTE]>,
    /// Sum of each of the last 60 minutes, per counter.
    minutes: Vec<[u64; MINUTES_PER_HOUR]>,
    /// Samples taken so far (positions in the rings follow from it).
    n_samples: u64,
}

static HISTORY: Mutex<Option<History>> = Mutex::new(None);

/// Takes the samples that are due at `now`. Cheap when none is.
pub fn run(now: Instant) {
    let mut slot = HISTORY.lock().unwrap_or_else(|e| e.into_inner());
    let history = slot.get_or_insert_with(|| History {
        next_sample: None,
        last_totals: COUNTERS.iter().map(|c| c.total()).collect(),
        samples: vec![[0; SAMPLES_PER_MINUTE]; COUNTERS.len()],
        minutes: vec![[0; MINUTES_PER_HOUR]; COUNTERS.len()],
        n_samples: 0,
    });
    let due = *history.next_sample.get_or_insert(now + SAMPLE_INTERVAL);
    if now < due {
        return;
    }
    // After a stall, account for the missed intervals too, but never for more than an hour.
    let missed = (now - due).as_millis() / SAMPLE_INTERVAL.as_millis();
    let n = (missed as usize + 1).min(SAMPLES_PER_MINUTE * MINUTES_PER_HOUR);
    for _ in 0..n {
        history.sample();
    }
    history.next_sample = Some(due + SAMPLE_INTERVAL * (missed as u32 + 1));
}

impl History {
    fn sample(&mut self) {
        let slot = (self.n_samples % SAMPLES_PER_MINUTE as u64) as usize;
        let minute =
            (self.n_samples / SAMPLES_PER_MINUTE as u64 % MINUTES_PER_HOUR as u64) as usize;
        for (i, counter) in COUNTERS.iter().enumerate() {
            let total = counter.total();
            let delta = total - self.last_totals[i];
            self.last_totals[i] = total;
            self.samples[i][slot] = delta;
            if slot == 0 {
                // A new minute starts: the slot held the sum of the same minute an hour ago.
                self.minutes[i][minute] = 0;
            }
            self.minutes[i][minute] += delta;
        }
        self.n_samples += 1;
    }

    /// Rates per second over the last sample, minute and hour.
    fn rates(&self, i: usize) -> (f64, f64, f64) {
        if self.n_samples == 0 {
            return (0.0, 0.0, 0.0);
        }
        let last = ((self.n_samples - 1) % SAMPLES_PER_MINUTE as u64) as usize;
        let five = self.samples[i][last] as f64 / SAMPLE_INTERVAL.as_secs_f64();
        let minute: u64 = self.samples[i].iter().sum();
        let hour: u64 = self.minutes[i].iter().sum();
        (five, minute as f64 / 60.0, hour as f64 / 3600.0)
    }
}

/// The `coverage/show` text: every counter that fired, with rates and total, then how many
/// never did.
pub fn show() -> String {
    let slot = HISTORY.lock().unwrap_or_else(|e| e.into_inner());
    let mut out =
        String::from("Event coverage, avg rate over last: 5 seconds, last minute, last hour:\n");
    let mut never = 0;
    for (i, counter) in COUNTERS.iter().enumerate() {
        let total = counter.total();
        if total == 0 {
            never += 1;
            continue;
        }
        let (five, minute, hour) = slot.as_ref().map_or((0.0, 0.0, 0.0), |h| h.rates(i));
        let _ = writeln!(
            out,
            "{:<24} {five:7.1}/sec {minute:9.3}/sec {hour:13.4}/sec   total: {total}",
            counter.name()
        );
    }
    let _ = writeln!(out, "{never} events never hit");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut names: Vec<&str> = COUNTERS.iter().map(|c| c.name()).collect();
        assert!(names
            .iter()
            .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COUNTERS.len());
    }

    #[test]
    fn rates_over_five_seconds_a_minute_and_an_hour() {
        // A private history over the real counters: deltas are measured from the totals at
        // its creation, so events other tests count concurrently are the only noise, and
        // VLOG_SUPPRESSED is bumped by no unit test.
        let counter = COUNTERS
            .iter()
            .position(|c| c.name() == "vlog_suppressed")
            .unwrap();
        let mut h = History {
            next_sample: None,
            last_totals: COUNTERS.iter().map(|c| c.total()).collect(),
            samples: vec![[0; SAMPLES_PER_MINUTE]; COUNTERS.len()],
            minutes: vec![[0; MINUTES_PER_HOUR]; COUNTERS.len()],
            n_samples: 0,
        };
        assert_eq!(h.rates(counter), (0.0, 0.0, 0.0));
        VLOG_SUPPRESSED.add(60);
        h.sample();
        assert_eq!(h.rates(counter), (12.0, 1.0, 60.0 / 3600.0));
        // Eleven quiet samples: the minute still holds the 60, the last 5 s do not.
        for _ in 0..11 {
            h.sample();
        }
        assert_eq!(h.rates(counter), (0.0, 1.0, 60.0 / 3600.0));
        // One more: the 60 leaves the minute but stays in the hour.
        h.sample();
        assert_eq!(h.rates(counter), (0.0, 0.0, 60.0 / 3600.0));
        // An hour later it has left the hour too.
        for _ in 0..SAMPLES_PER_MINUTE * MINUTES_PER_HOUR {
            h.sample();
        }
        assert_eq!(h.rates(counter), (0.0, 0.0, 0.0));
    }

    #[test]
    fn show_prints_fired_counters_and_counts_the_rest() {
        XLATE_ACTIONS.inc();
        let text = show();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some("Event coverage, avg rate over last: 5 seconds, last minute, last hour:")
        );
        let xlate = text
            .lines()
            .find(|l| l.starts_with("xlate_actions "))
            .unwrap();
        assert!(
            xlate.starts_with(
                "xlate_actions                0.0/sec     0.000/sec        0.0000/sec   total: "
            ),
            "{xlate}"
        );
        // Other tests count events concurrently: check the text against itself.
        let fired = text.lines().count() - 2;
        assert_eq!(
            text.lines().last(),
            Some(format!("{} events never hit", COUNTERS.len() - fired).as_str())
        );
    }
}
