//! A token bucket for packet-in rate limiting: `rate` messages per second on average, with up
//! to `burst` sent back to back after a quiet spell. Integer arithmetic in thousandths of a
//! token, so no drift accumulates over long runs.

use std::time::Instant;

/// Packet-in limits for one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Average packet-ins per second.
    pub rate: u32,
    /// Packet-ins that may go out at once; at least 1.
    pub burst: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    limit: RateLimit,
    /// Tokens available, in thousandths.
    milli: u64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(limit: RateLimit, now: Instant) -> TokenBucket {
        let limit = RateLimit {
            rate: limit.rate,
            burst: limit.burst.max(1),
        };
        TokenBucket {
            limit,
            milli: u64::from(limit.burst) * 1000,
            last: now,
        }
    }

    /// Takes one token if there is one.
    pub fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        let gained = elapsed
            .as_micros()
            .saturating_mul(u128::from(self.limit.rate))
            / 1000;
        if gained > 0 {
            // Only move `last` when something was credited, so that frequent calls do not
            // round every increment away.
            self.last = now;
        }
        let cap = u64::from(self.limit.burst) * 1000;
        self.milli = u64::try_from(u128::from(self.milli) + gained)
            .unwrap_or(cap)
            .min(cap);
        if self.milli >= 1000 {
            self.milli -= 1000;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimit { rate: 10, burst: 3 }, t0);
        assert!(b.take(t0));
        assert!(b.take(t0));
        assert!(b.take(t0));
        assert!(!b.take(t0));
        // 10/s: one token per 100 ms.
        assert!(!b.take(t0 + Duration::from_millis(99)));
        assert!(b.take(t0 + Duration::from_millis(100)));
        assert!(!b.take(t0 + Duration::from_millis(150)));
        // A long pause refills to the burst, not beyond.
        let later = t0 + Duration::from_secs(60);
        let sent = (0..10).filter(|_| b.take(later)).count();
        assert_eq!(sent, 3);
    }
}
