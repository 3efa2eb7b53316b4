//! The reconnect schedule: at once, then 1, 2, 5 and 10 s (the cap), each delay spread
//! by ±50 % jitter so that many browsers do not reconnect in step after a restart.

/// Base delays in milliseconds by attempt; the last one repeats without a limit.
pub const RECONNECT_DELAYS_MS: [u64; 5] = [0, 1_000, 2_000, 5_000, 10_000];

/// How far jitter spreads a delay, as a fraction of it (0.5 = ±50 %).
pub const JITTER: f64 = 0.5;

/// The delay before reconnect attempt `attempt` (0-based), given `unit`, a random number
/// in `[0, 1)`.
pub fn reconnect_delay_ms(attempt: u32, unit: f64) -> u64 {
    let index = (attempt as usize).min(RECONNECT_DELAYS_MS.len() - 1);
    let base = RECONNECT_DELAYS_MS[index] as f64;
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
    (base * factor).round() as u64
}

/// A small deterministic random source (xorshift64*), seeded by the host, so the
/// machine stays plain Rust and tests can replay a schedule.
#[derive(Debug, Clone)]
pub struct Jitter {
    state: u64,
}

impl Jitter {
    pub fn new(seed: u64) -> Self {
        Jitter { state: seed | 1 }
    }

    /// The next number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let value = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (value >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_attempt_is_immediate() {
        assert_eq!(reconnect_delay_ms(0, 0.0), 0);
        assert_eq!(reconnect_delay_ms(0, 0.99), 0);
    }

    #[test]
    fn delays_grow_then_stay_at_the_cap_within_jitter() {
        for (attempt, base) in [
            (1, 1_000),
            (2, 2_000),
            (3, 5_000),
            (4, 10_000),
            (50, 10_000),
        ] {
            assert_eq!(
                reconnect_delay_ms(attempt, 0.5),
                base,
                "attempt {attempt} without jitter"
            );
            assert_eq!(
                reconnect_delay_ms(attempt, 0.0),
                base / 2,
                "attempt {attempt} at -50 %"
            );
            let high = reconnect_delay_ms(attempt, 0.999_999);
            assert!(
                high <= base * 3 / 2 && high > base * 149 / 100,
                "attempt {attempt} at +50 %: {high}"
            );
        }
    }

    #[test]
    fn jitter_is_spread_over_the_unit_interval() {
        let mut jitter = Jitter::new(42);
        let samples: Vec<f64> = (0..1000).map(|_| jitter.next_unit()).collect();
        assert!(samples.iter().all(|x| (0.0..1.0).contains(x)));
        let below_half = samples.iter().filter(|x| **x < 0.5).count();
        assert!(
            (400..600).contains(&below_half),
            "{below_half} of 1000 below 0.5"
        );
    }
}
