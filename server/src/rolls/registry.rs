//! Pending roll requests and their resolution (seed items 1.1, 2.2 and 4.1).
//!
//! Every `execute_roll` is recorded here under a fresh `request_id`, for one client,
//! with a deadline on the server's clock. Results reach [`RollRegistry::resolve`] from
//! either transport, and that one function decides, idempotently by `request_id`:
//! the first valid result is accepted and wakes the waiting tool; a repeat is a
//! duplicate; a late one is expired; a foreign one is forbidden; an unknown id is
//! unknown. Resolved and expired ids are remembered as tombstones for at least the
//! configured time, in bounded memory.
//!
//! No entry outlives its deadline: the waiting side ([`RollTicket::wait`]) wakes at the
//! deadline and removes it, and a ticket that is dropped (its turn was cancelled)
//! removes it too.

use super::validate;
use gold_box_protocol::{RollAckStatus, RollOutcome, RollRequest};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Why a waiting tool got no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollFailure {
    /// The deadline passed without a valid result.
    Timeout { waited_ms: u64 },
    /// The server is shutting down.
    ShuttingDown,
}

impl std::fmt::Display for RollFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RollFailure::Timeout { waited_ms } => write!(f, "no roll result within {waited_ms} ms"),
            RollFailure::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

type Waiter = oneshot::Sender<Result<Vec<RollOutcome>, RollFailure>>;

#[derive(Debug)]
struct Pending {
    client_id: Arc<str>,
    rolls: Vec<RollRequest>,
    issued_at: Instant,
    deadline: Instant,
    waiter: Waiter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    Resolved,
    Expired,
}

#[derive(Debug)]
struct Tombstone {
    client_id: Arc<str>,
    ended: Ended,
}

#[derive(Debug, Default)]
struct Inner {
    pending: HashMap<String, Pending>,
    /// Keyed by the same shared id the `order` queue holds: one allocation per id.
    tombstones: HashMap<Arc<str>, Tombstone>,
    /// Tombstone ids, oldest first, with the time each was laid.
    order: VecDeque<(Instant, Arc<str>)>,
}

/// How a result was taken.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolution {
    pub status: RollAckStatus,
    /// For `invalid`: what was wrong, naming the field.
    pub error: Option<String>,
    /// For `accepted`: the time from issuing the request to accepting its result.
    pub latency: Option<Duration>,
}

impl Resolution {
    /// A result refused before it reached the registry (its data does not decode).
    pub fn invalid(error: String) -> Self {
        Resolution {
            status: RollAckStatus::Invalid,
            error: Some(error),
            latency: None,
        }
    }

    fn status(status: RollAckStatus) -> Self {
        Resolution {
            status,
            error: None,
            latency: None,
        }
    }
}

/// Wakes the tool waiting on an accepted result. The caller fires it after acknowledging
/// the result, so the ack reaches the client before anything the resumed turn sends.
#[derive(Debug)]
#[must_use = "the waiting tool resumes only when woken"]
pub struct Wakeup {
    waiter: Waiter,
    results: Vec<RollOutcome>,
}

impl Wakeup {
    pub fn wake(self) {
        // The waiter may be gone (its turn was cancelled); the result was still taken
        // once, and a repeat is still a duplicate.
        let _ = self.waiter.send(Ok(self.results));
    }
}

/// An unanswered request, to be sent again to a client that reconnects.
#[derive(Debug, Clone, PartialEq)]
pub struct Unanswered {
    pub request_id: String,
    pub rolls: Vec<RollRequest>,
    pub time_left: Duration,
}

/// The registry of roll requests.
#[derive(Debug)]
pub struct RollRegistry {
    inner: Mutex<Inner>,
    tombstone_ttl: Duration,
    max_tombstones: usize,
    next_id: AtomicU64,
    /// Random per server start: an id from before a restart (still in a browser's
    /// outbox) can never name a request of the restarted server.
    id_prefix: String,
}

impl RollRegistry {
    /// `id_prefix` is the server instance's random id (see `AppState::instance`).
    pub fn new(tombstone_ttl: Duration, max_tombstones: usize, id_prefix: &str) -> Self {
        RollRegistry {
            inner: Mutex::default(),
            tombstone_ttl,
            max_tombstones: max_tombstones.max(1),
            next_id: AtomicU64::new(1),
            id_prefix: id_prefix.to_owned(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every operation leaves the maps consistent before it can panic, so a poisoned
        // lock still guards good data.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a request for `client_id` that expires after `timeout`.
    pub fn issue(
        self: &Arc<Self>,
        client_id: &str,
        rolls: Vec<RollRequest>,
        timeout: Duration,
    ) -> RollTicket {
        let request_id = format!(
            "roll-{}-{}",
            self.id_prefix,
            self.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let now = Instant::now();
        let deadline = crate::deadline_after(now, timeout);
        let (waiter, receiver) = oneshot::channel();
        let mut inner = self.lock();
        self.prune(&mut inner, now);
        inner.pending.insert(
            request_id.clone(),
            Pending {
                client_id: Arc::from(client_id),
                rolls,
                issued_at: now,
                deadline,
                waiter,
            },
        );
        RollTicket {
            request_id,
            deadline,
            timeout,
            receiver,
            registry: self.clone(),
        }
    }

    /// Takes a result for `request_id` from `client_id`, whatever transport brought it.
    /// An accepted result comes with the [`Wakeup`] for its waiting tool.
    pub fn resolve(
        &self,
        client_id: &str,
        request_id: &str,
        results: Vec<RollOutcome>,
    ) -> (Resolution, Option<Wakeup>) {
        let mut wakeup = None;
        let resolution = self.take(client_id, request_id, results, &mut wakeup);
        (resolution, wakeup)
    }

    fn take(
        &self,
        client_id: &str,
        request_id: &str,
        results: Vec<RollOutcome>,
        wakeup: &mut Option<Wakeup>,
    ) -> Resolution {
        let now = Instant::now();
        let mut inner = self.lock();
        self.prune(&mut inner, now);
        if let Some(tombstone) = inner.tombstones.get(request_id) {
            if &*tombstone.client_id != client_id {
                return Resolution::status(RollAckStatus::Forbidden);
            }
            return Resolution::status(match tombstone.ended {
                Ended::Resolved => RollAckStatus::Duplicate,
                Ended::Expired => RollAckStatus::Expired,
            });
        }
        let Some(pending) = inner.pending.get(request_id) else {
            return Resolution::status(RollAckStatus::Unknown);
        };
        if &*pending.client_id != client_id {
            return Resolution::status(RollAckStatus::Forbidden);
        }
        if now >= pending.deadline {
            if let Some(pending) = inner.pending.remove(request_id) {
                let waited_ms = millis(now - pending.issued_at);
                let _ = pending.waiter.send(Err(RollFailure::Timeout { waited_ms }));
                self.lay_tombstone(
                    &mut inner,
                    request_id,
                    pending.client_id,
                    Ended::Expired,
                    now,
                );
            }
            return Resolution::status(RollAckStatus::Expired);
        }
        if let Err(error) = validate::check(&pending.rolls, &results) {
            return Resolution {
                status: RollAckStatus::Invalid,
                error: Some(error),
                latency: None,
            };
        }
        let Some(pending) = inner.pending.remove(request_id) else {
            return Resolution::status(RollAckStatus::Unknown);
        };
        let latency = now - pending.issued_at;
        *wakeup = Some(Wakeup {
            waiter: pending.waiter,
            results,
        });
        self.lay_tombstone(
            &mut inner,
            request_id,
            pending.client_id,
            Ended::Resolved,
            now,
        );
        Resolution {
            status: RollAckStatus::Accepted,
            error: None,
            latency: Some(latency),
        }
    }

    /// Removes a request whose deadline passed or whose waiter gave up; returns whether
    /// it was still pending.
    fn expire(&self, request_id: &str) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.pending.remove(request_id) {
            Some(pending) => {
                self.lay_tombstone(
                    &mut inner,
                    request_id,
                    pending.client_id,
                    Ended::Expired,
                    now,
                );
                true
            }
            None => false,
        }
    }

    /// Withdraws a request whose turn was stopped: it is laid as expired (a result sent
    /// later is answered `expired`, never applied) and is not sent again on reconnect.
    /// Returns whether it was still waiting for its result.
    pub fn withdraw(&self, request_id: &str) -> bool {
        self.expire(request_id)
    }

    /// The client's requests still waiting for a result, oldest first.
    pub fn unanswered(&self, client_id: &str) -> Vec<Unanswered> {
        let now = Instant::now();
        let inner = self.lock();
        let mut open: Vec<(&String, &Pending)> = inner
            .pending
            .iter()
            .filter(|(_, p)| &*p.client_id == client_id && p.deadline > now)
            .collect();
        open.sort_by_key(|(_, p)| p.issued_at);
        open.into_iter()
            .map(|(id, p)| Unanswered {
                request_id: id.clone(),
                rolls: p.rolls.clone(),
                time_left: p.deadline - now,
            })
            .collect()
    }

    /// Fails every waiting request (the server is stopping).
    pub fn fail_all(&self, failure: RollFailure) {
        let now = Instant::now();
        let mut inner = self.lock();
        let ids: Vec<String> = inner.pending.keys().cloned().collect();
        for id in ids {
            if let Some(pending) = inner.pending.remove(&id) {
                let _ = pending.waiter.send(Err(failure.clone()));
                self.lay_tombstone(&mut inner, &id, pending.client_id, Ended::Expired, now);
            }
        }
    }

    pub fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }

    pub fn tombstone_count(&self) -> usize {
        let mut inner = self.lock();
        self.prune(&mut inner, Instant::now());
        inner.tombstones.len()
    }

    fn lay_tombstone(
        &self,
        inner: &mut Inner,
        request_id: &str,
        client_id: Arc<str>,
        ended: Ended,
        now: Instant,
    ) {
        let id: Arc<str> = Arc::from(request_id);
        inner
            .tombstones
            .insert(id.clone(), Tombstone { client_id, ended });
        inner.order.push_back((now, id));
        self.prune(inner, now);
    }

    /// Forgets tombstones older than the TTL, and the oldest ones beyond the count limit.
    fn prune(&self, inner: &mut Inner, now: Instant) {
        while let Some((laid, _)) = inner.order.front() {
            let too_old = now.duration_since(*laid) >= self.tombstone_ttl;
            if !too_old && inner.order.len() <= self.max_tombstones {
                break;
            }
            if let Some((_, id)) = inner.order.pop_front() {
                inner.tombstones.remove(&id);
            }
        }
        // Give memory back after a burst, so a quiet server returns to its baseline.
        if inner.tombstones.capacity() > 64
            && inner.tombstones.len() < inner.tombstones.capacity() / 4
        {
            inner.tombstones.shrink_to_fit();
            inner.order.shrink_to_fit();
        }
        if inner.pending.capacity() > 64 && inner.pending.len() < inner.pending.capacity() / 4 {
            inner.pending.shrink_to_fit();
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The waiting side of one request. Dropping it without waiting removes the request.
#[derive(Debug)]
pub struct RollTicket {
    pub request_id: String,
    pub deadline: Instant,
    pub timeout: Duration,
    receiver: oneshot::Receiver<Result<Vec<RollOutcome>, RollFailure>>,
    registry: Arc<RollRegistry>,
}

impl RollTicket {
    /// Waits for the first valid result, or fails at the deadline.
    pub async fn wait(mut self) -> Result<Vec<RollOutcome>, RollFailure> {
        let waited_ms = millis(self.timeout);
        match tokio::time::timeout_at(self.deadline, &mut self.receiver).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RollFailure::Timeout { waited_ms }),
            Err(_) => {
                if self.registry.expire(&self.request_id) {
                    Err(RollFailure::Timeout { waited_ms })
                } else {
                    // Accepted before the deadline, and the transport has not woken us
                    // yet (it queues the ack first): the result is on its way, and the
                    // client was told `accepted`, so it must be applied. The wake-up is
                    // a few instructions away; a dropped one ends the wait at once.
                    (&mut self.receiver)
                        .await
                        .unwrap_or(Err(RollFailure::Timeout { waited_ms }))
                }
            }
        }
    }
}

impl Drop for RollTicket {
    fn drop(&mut self) {
        self.registry.expire(&self.request_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::{DieResult, DieTerm};

    const TTL: Duration = Duration::from_secs(600);

    /// Resolves and wakes at once, as a transport does after acknowledging.
    trait ResolveNow {
        fn resolve_now(
            &self,
            client_id: &str,
            request_id: &str,
            results: Vec<RollOutcome>,
        ) -> Resolution;
    }

    impl ResolveNow for RollRegistry {
        fn resolve_now(
            &self,
            client_id: &str,
            request_id: &str,
            results: Vec<RollOutcome>,
        ) -> Resolution {
            let (resolution, wakeup) = self.resolve(client_id, request_id, results);
            if let Some(wakeup) = wakeup {
                wakeup.wake();
            }
            resolution
        }
    }

    /// A different prefix for every registry, as every server start has.
    fn next_prefix() -> String {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        format!("p{}", NEXT.fetch_add(1, Ordering::Relaxed))
    }

    fn registry() -> Arc<RollRegistry> {
        Arc::new(RollRegistry::new(TTL, 1_000, &next_prefix()))
    }

    fn d20() -> Vec<RollRequest> {
        vec![RollRequest {
            formula: "1d20".into(),
            flavor: None,
        }]
    }

    fn rolled(total: f64) -> Vec<RollOutcome> {
        vec![RollOutcome {
            formula: "1d20".into(),
            flavor: None,
            total: Some(total),
            dice: vec![DieTerm {
                faces: 20,
                results: vec![DieResult {
                    result: total as i64,
                    active: true,
                }],
            }],
            error: None,
        }]
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_valid_result_wakes_the_waiter_and_a_repeat_is_a_duplicate() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        let waiting = tokio::spawn(ticket.wait());
        let first = registry.resolve_now("a", &id, rolled(12.0));
        assert_eq!(first.status, RollAckStatus::Accepted);
        assert!(first.latency.is_some());
        assert_eq!(waiting.await.expect("join"), Ok(rolled(12.0)));
        assert_eq!(
            registry.resolve_now("a", &id, rolled(3.0)).status,
            RollAckStatus::Duplicate
        );
        assert_eq!(registry.pending_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_deadline_the_waiter_times_out_and_the_entry_is_gone() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        let waiting = tokio::spawn(ticket.wait());
        tokio::time::sleep(Duration::from_millis(29_999)).await;
        assert_eq!(registry.pending_count(), 1);
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(
            waiting.await.expect("join"),
            Err(RollFailure::Timeout { waited_ms: 30_000 })
        );
        assert_eq!(
            registry.pending_count(),
            0,
            "no entry outlives its deadline"
        );
        assert_eq!(
            registry.resolve_now("a", &id, rolled(5.0)).status,
            RollAckStatus::Expired
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_result_accepted_just_before_the_deadline_fires_still_reaches_the_waiting_tool() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        let waiting = tokio::spawn(ticket.wait());
        tokio::task::yield_now().await;
        tokio::time::advance(Duration::from_millis(29_999)).await;
        // Accepted with a millisecond left; the transport queues the ack before it wakes
        // the tool, and the deadline fires in between.
        let (resolution, wakeup) = registry.resolve("a", &id, rolled(12.0));
        assert_eq!(resolution.status, RollAckStatus::Accepted);
        tokio::time::advance(Duration::from_millis(2)).await;
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        wakeup.expect("an accepted result has a wake-up").wake();
        assert_eq!(
            waiting.await.expect("join"),
            Ok(rolled(12.0)),
            "the client was told `accepted`: its roll must not be lost"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_timeout_does_not_overflow_the_deadline() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_millis(u64::MAX));
        assert!(ticket.deadline > Instant::now() + Duration::from_secs(86_400 * 365));
        let id = ticket.request_id.clone();
        assert_eq!(
            registry.resolve_now("a", &id, rolled(3.0)).status,
            RollAckStatus::Accepted
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_result_after_the_deadline_but_before_the_waiter_wakes_is_expired() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(1));
        let id = ticket.request_id.clone();
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            registry.resolve_now("a", &id, rolled(5.0)).status,
            RollAckStatus::Expired
        );
        assert!(matches!(
            ticket.wait().await,
            Err(RollFailure::Timeout { .. })
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn tombstones_are_kept_for_the_ttl_then_forgotten() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        registry.resolve_now("a", &id, rolled(1.0));
        tokio::time::advance(TTL - Duration::from_secs(1)).await;
        assert_eq!(
            registry.resolve_now("a", &id, rolled(1.0)).status,
            RollAckStatus::Duplicate
        );
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            registry.resolve_now("a", &id, rolled(1.0)).status,
            RollAckStatus::Unknown
        );
        assert_eq!(registry.tombstone_count(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn tombstones_are_bounded_in_number() {
        let registry = Arc::new(RollRegistry::new(TTL, 10, "t"));
        for _ in 0..25 {
            let ticket = registry.issue("a", d20(), Duration::from_secs(30));
            let id = ticket.request_id.clone();
            registry.resolve_now("a", &id, rolled(1.0));
        }
        assert_eq!(registry.tombstone_count(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn another_clients_result_is_forbidden_and_changes_nothing() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        assert_eq!(
            registry.resolve_now("b", &id, rolled(20.0)).status,
            RollAckStatus::Forbidden
        );
        assert_eq!(
            registry.resolve_now("a", &id, rolled(4.0)).status,
            RollAckStatus::Accepted
        );
        assert_eq!(ticket.wait().await, Ok(rolled(4.0)));
        assert_eq!(
            registry.resolve_now("b", &id, rolled(20.0)).status,
            RollAckStatus::Forbidden
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_invalid_result_names_the_field_and_leaves_the_request_open() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        let invalid = registry.resolve_now("a", &id, vec![]);
        assert_eq!(invalid.status, RollAckStatus::Invalid);
        assert!(invalid.error.unwrap_or_default().starts_with("results:"));
        assert_eq!(
            registry.resolve_now("a", &id, rolled(9.0)).status,
            RollAckStatus::Accepted
        );
        assert_eq!(ticket.wait().await, Ok(rolled(9.0)));
    }

    #[tokio::test(start_paused = true)]
    async fn ids_of_two_server_starts_never_collide() {
        let before = registry().issue("a", d20(), Duration::from_secs(30));
        let after = registry().issue("a", d20(), Duration::from_secs(30));
        assert_ne!(before.request_id, after.request_id);
        assert!(before.request_id.starts_with("roll-") && before.request_id.ends_with("-1"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_id_never_issued_is_unknown() {
        assert_eq!(
            registry().resolve_now("a", "roll-999", rolled(1.0)).status,
            RollAckStatus::Unknown
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_ticket_removes_its_request() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let id = ticket.request_id.clone();
        drop(ticket);
        assert_eq!(registry.pending_count(), 0);
        assert_eq!(
            registry.resolve_now("a", &id, rolled(1.0)).status,
            RollAckStatus::Expired
        );
    }

    #[tokio::test(start_paused = true)]
    async fn unanswered_requests_are_listed_with_their_time_left() {
        let registry = registry();
        let _first = registry.issue("a", d20(), Duration::from_secs(30));
        tokio::time::advance(Duration::from_secs(10)).await;
        let _other = registry.issue("b", d20(), Duration::from_secs(30));
        let open = registry.unanswered("a");
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].time_left, Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn fail_all_wakes_every_waiter_with_the_reason() {
        let registry = registry();
        let ticket = registry.issue("a", d20(), Duration::from_secs(30));
        let waiting = tokio::spawn(ticket.wait());
        tokio::task::yield_now().await;
        registry.fail_all(RollFailure::ShuttingDown);
        assert_eq!(waiting.await.expect("join"), Err(RollFailure::ShuttingDown));
        assert_eq!(registry.pending_count(), 0);
    }
}
