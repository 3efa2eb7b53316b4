//! A turn's progress: when it last moved, and the tokens it has spent so far.
//!
//! One [`TurnProgress`] is made per turn by whoever runs it (the server's `turns`), handed
//! to the engine through [`super::TurnTools::progress`], and read back by the runner. It
//! exists for two jobs that must not depend on how the engine is written:
//!
//! - the stall watchdog: the runner waits on [`TurnProgress::stalled`], which fires once
//!   nothing has called [`TurnProgress::touch`] for the configured time. Everything that
//!   counts as progress touches it: a provider answer (or, with streaming, each delta:
//!   one `progress.touch()` where the delta arrives), a tool call run, a roll resolved;
//! - usage: each provider answer's `usage` is added with [`TurnProgress::add_usage`], so
//!   a turn that is stopped or fails part-way still reports what it spent.
//!
//! A roll waits on a person at the table, not on the AI: while one is pending
//! ([`TurnProgress::waiting_on_table`]) the watchdog does not count, and the roll's own
//! deadline (`--roll-timeout-ms`) bounds the wait instead.
//!
//! It is a cheap clone of one shared record (an `Arc`), so the engine's future may be
//! dropped (a stop) while the runner still reads it. No lock is held across an await.

use super::messages::Usage;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The progress of one turn; clones share it.
#[derive(Debug, Clone)]
pub struct TurnProgress {
    shared: Arc<Mutex<Record>>,
}

#[derive(Debug)]
struct Record {
    last: Instant,
    usage: Usage,
    /// Rolls pending at the table: the watchdog waits while any is.
    waiting: u32,
}

/// A roll pending at the table; dropping it (answered, failed or abandoned) is progress.
#[derive(Debug)]
#[must_use = "the wait ends when the guard drops"]
pub struct TableWait {
    progress: TurnProgress,
}

impl Drop for TableWait {
    fn drop(&mut self) {
        let mut record = self.progress.record();
        record.waiting = record.waiting.saturating_sub(1);
        record.last = Instant::now();
    }
}

impl Default for TurnProgress {
    fn default() -> Self {
        TurnProgress::new()
    }
}

impl TurnProgress {
    /// A record that starts now, with no tokens spent.
    pub fn new() -> TurnProgress {
        TurnProgress {
            shared: Arc::new(Mutex::new(Record {
                last: Instant::now(),
                usage: Usage::default(),
                waiting: 0,
            })),
        }
    }

    fn record(&self) -> MutexGuard<'_, Record> {
        // Every update is a plain assignment, so a poisoned lock still guards good data.
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The turn moved: a provider answer or delta, a tool call run, a roll resolved.
    pub fn touch(&self) {
        self.record().last = Instant::now();
    }

    /// Adds one provider answer's tokens (a provider answer is progress too).
    pub fn add_usage(&self, usage: Usage) {
        let mut record = self.record();
        record.usage.prompt_tokens = record
            .usage
            .prompt_tokens
            .saturating_add(usage.prompt_tokens);
        record.usage.completion_tokens = record
            .usage
            .completion_tokens
            .saturating_add(usage.completion_tokens);
        record.last = Instant::now();
    }

    /// A roll is pending at the table until the guard drops: asking is progress, and the
    /// watchdog waits for the person rolling.
    pub fn waiting_on_table(&self) -> TableWait {
        let mut record = self.record();
        record.waiting += 1;
        record.last = Instant::now();
        TableWait {
            progress: self.clone(),
        }
    }

    /// The tokens spent so far.
    pub fn usage(&self) -> Usage {
        self.record().usage
    }

    /// When the turn last moved.
    pub fn last_progress(&self) -> Instant {
        self.record().last
    }

    /// Resolves once nothing has touched this record for `limit` in one stretch.
    pub async fn stalled(&self, limit: Duration) {
        loop {
            let due = crate::deadline_after(self.last_progress(), limit);
            tokio::time::sleep_until(due).await;
            let (last, waiting) = {
                let record = self.record();
                (record.last, record.waiting)
            };
            if waiting == 0 && Instant::now() >= crate::deadline_after(last, limit) {
                return;
            }
            if waiting > 0 {
                // Checked again a full stretch from now; the wait's end touches the record.
                tokio::time::sleep(limit).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn stalled_fires_only_after_a_full_stretch_without_a_touch() {
        let progress = TurnProgress::new();
        let watcher = progress.clone();
        let started = Instant::now();
        let watch = tokio::spawn(async move {
            watcher.stalled(Duration::from_secs(10)).await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_secs(6)).await;
        progress.touch();
        tokio::time::sleep(Duration::from_secs(6)).await;
        progress.add_usage(Usage {
            prompt_tokens: 1,
            completion_tokens: 1,
        });
        let fired = watch.await.expect("the watcher ends");
        assert_eq!(
            fired - started,
            Duration::from_secs(22),
            "10 s after the last touch at 12 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_roll_pending_at_the_table_is_not_a_stall() {
        let progress = TurnProgress::new();
        let watcher = progress.clone();
        let started = Instant::now();
        let watch = tokio::spawn(async move {
            watcher.stalled(Duration::from_secs(10)).await;
            Instant::now()
        });
        let wait = progress.waiting_on_table();
        tokio::time::sleep(Duration::from_secs(35)).await;
        assert!(
            !watch.is_finished(),
            "a 35 s roll is the table's time, not a stall"
        );
        drop(wait);
        let fired = watch.await.expect("the watcher ends");
        assert!(
            fired - started >= Duration::from_secs(45),
            "10 s after the roll came back at 35 s: {:?}",
            fired - started
        );
    }

    #[test]
    fn usage_sums_every_answer() {
        let progress = TurnProgress::new();
        for (prompt, completion) in [(100, 20), (120, 10)] {
            progress.add_usage(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
            });
        }
        assert_eq!(
            progress.usage(),
            Usage {
                prompt_tokens: 220,
                completion_tokens: 30
            }
        );
    }
}
