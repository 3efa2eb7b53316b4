//! Who is connected, and what the server holds for each client: the live link (at most
//! one per `client_id`), its settings with their revision, the context for the AI's next
//! turn, and the session frames (turn output) it has not yet acknowledged.
//!
//! Session frames are the frames that answer or belong to a `chat_request`. Each is
//! numbered (`seq`) and kept in the client's record, so that none is lost to a socket
//! that dies after the frame was written into it: a client that resumes (see
//! "Resumable delivery" in docs/PROTOCOL.md) gets every frame it has not acknowledged
//! replayed in order; a client that does not resume gets, as before, the frames that
//! were never handed to a socket. Kept frames are bounded in count (a turn that would
//! overflow fails) and in age, counted from the end of the turn that produced each.
//!
//! Settings are kept per client, never in one global map, so two GMs' browsers never
//! overwrite each other. Records of clients that have gone (no link, no running turn,
//! nothing kept) are evicted after a TTL, so memory stays bounded over a long session.
//! The lock is a plain mutex held for map operations only, never across an `.await`.

use crate::link::{Link, NotSent};
use gold_box_protocol::{JsonMap, JsonValue, ResumeFrom, Resumed, ServerFrame, SettingsSync};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How many sequence numbers of dropped (never acknowledged) frames a record remembers,
/// to tell a resuming client how many it missed. Fixed: a drop is rare (a frame past its
/// TTL or over the bound), and beyond this many a client has missed whole turns anyway.
const REMEMBERED_DROPS: usize = 1024;

/// How many `chat_request` ids a record remembers, so that a request sent again after a
/// cut is taken as the one already running or refused, not as a new turn. Fixed: a
/// client resends only the request it was waiting on.
const REMEMBERED_TURNS: usize = 64;

/// The settings a client last synced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeldSettings {
    /// `None` until the first sync.
    pub revision: Option<u64>,
    pub values: JsonMap,
}

/// What happened to a session frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the client's live link (and kept until acknowledged, if it resumes).
    Sent,
    /// No live link could take it: kept for the client's return.
    Kept,
    /// Over the bound of kept frames: neither sent nor kept.
    Full,
}

/// The limits on what a record keeps (from the configuration).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Session frames kept per client.
    pub kept_frames: usize,
    /// How long a kept frame outlives the end of its turn.
    pub kept_ttl: Duration,
    /// Context frames kept per client.
    pub context_frames: usize,
    /// Context kept per client, in bytes of JSON (approximately).
    pub context_bytes: usize,
    /// How long the record of a client that has gone is kept.
    pub client_ttl: Duration,
}

#[derive(Debug)]
struct KeptFrame {
    seq: u64,
    /// The `chat_request` this frame belongs to.
    turn: Arc<str>,
    /// When that turn ended; frames of a running turn do not age.
    turn_ended: Option<Instant>,
    /// Whether it was handed to a live link.
    handed: bool,
    frame: ServerFrame,
}

#[derive(Debug)]
struct ClientRecord {
    link: Option<Link>,
    /// Whether the live (or last) link asked to resume.
    resumes: bool,
    settings: HeldSettings,
    kept: VecDeque<KeptFrame>,
    /// Sequence numbers of frames dropped before they were acknowledged, oldest first.
    dropped: VecDeque<u64>,
    running_turns: usize,
    /// The latest `chat_request` ids taken from this client, oldest first.
    turn_ids: VecDeque<Arc<str>>,
    context: VecDeque<(JsonValue, usize)>,
    context_bytes: usize,
    combat_state: Option<JsonValue>,
    /// When the link was last attached or detached, or a turn ended.
    last_active: Instant,
    presence: watch::Sender<bool>,
}

impl Default for ClientRecord {
    fn default() -> Self {
        ClientRecord {
            link: None,
            resumes: false,
            settings: HeldSettings::default(),
            kept: VecDeque::new(),
            dropped: VecDeque::new(),
            running_turns: 0,
            turn_ids: VecDeque::new(),
            context: VecDeque::new(),
            context_bytes: 0,
            combat_state: None,
            last_active: Instant::now(),
            presence: watch::Sender::new(false),
        }
    }
}

impl ClientRecord {
    /// Hands a frame to the live link if nothing older waits before it, and keeps it
    /// unless it was handed to a client that does not resume.
    fn push(&mut self, seq: u64, turn: Arc<str>, mut frame: ServerFrame) -> Delivery {
        let in_order = self.kept.iter().all(|kept| kept.handed);
        let mut handed = false;
        if let (Some(link), true) = (&self.link, in_order) {
            if self.resumes {
                handed = link.send(frame.clone()).is_ok();
            } else {
                match link.send(frame) {
                    Ok(()) => return Delivery::Sent,
                    Err(not_sent) => frame = not_sent.into_frame(),
                }
            }
        }
        self.kept.push_back(KeptFrame {
            seq,
            turn,
            turn_ended: None,
            handed,
            frame,
        });
        if handed {
            Delivery::Sent
        } else {
            Delivery::Kept
        }
    }

    fn note_dropped(&mut self, seq: u64) {
        if self.dropped.len() >= REMEMBERED_DROPS {
            self.dropped.pop_front();
        }
        self.dropped.push_back(seq);
    }

    fn evictable(&self, now: Instant, ttl: Duration) -> bool {
        self.link.is_none()
            && self.running_turns == 0
            && self.kept.is_empty()
            && now.duration_since(self.last_active) >= ttl
    }
}

/// What [`Clients::attach`] did.
#[derive(Debug)]
pub struct Attached {
    /// The link this one replaces (to be closed).
    pub replaced: Option<Link>,
    /// For a resuming client: what was replayed and what is lost.
    pub resumed: Option<Resumed>,
}

/// Every client the server holds a record for.
#[derive(Debug)]
pub struct Clients {
    records: Mutex<HashMap<String, ClientRecord>>,
    /// One counter for every client of this server start: a later frame always has a
    /// higher `seq`, even for a client whose record was evicted and made anew.
    next_seq: AtomicU64,
    limits: Limits,
}

impl Clients {
    pub fn new(limits: Limits) -> Self {
        Clients {
            records: Mutex::default(),
            next_seq: AtomicU64::new(1),
            limits,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, ClientRecord>> {
        // Every operation is a few field writes, so a poisoned lock still guards a
        // consistent map.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `link` the client's live one. `connected` builds the handshake's answer,
    /// which is queued first, then the session frames to replay, in order, all under the
    /// lock so that no new turn output slips in between.
    pub fn attach(
        &self,
        client_id: &str,
        link: Link,
        resume: Option<&ResumeFrom>,
        instance: &str,
        connected: impl FnOnce(Option<Resumed>) -> ServerFrame,
    ) -> Attached {
        let mut records = self.lock();
        let record = records.entry(client_id.to_owned()).or_default();
        record.resumes = resume.is_some();
        record.last_active = Instant::now();
        let resumed = resume.map(|resume| {
            let last_seq = match &resume.instance {
                Some(seen) if seen == instance => resume.last_seq,
                _ => 0,
            };
            // What the client has processed needs no replay: as good as acknowledged.
            record.kept.retain(|kept| kept.seq > last_seq);
            Resumed {
                replayed: record.kept.len() as u64,
                missed: record.dropped.iter().filter(|&&seq| seq > last_seq).count() as u64,
            }
        });
        let _ = link.send(connected(resumed));
        let resumes = record.resumes;
        let mut handed_all = true;
        record.kept.retain_mut(|kept| {
            if !handed_all || (kept.handed && !resumes) {
                return true;
            }
            match link.send(kept.frame.clone()) {
                Ok(()) => {
                    kept.handed = true;
                    // A client that does not resume never acknowledges: handed is done.
                    resumes
                }
                Err(_) => {
                    handed_all = false;
                    kept.handed = false;
                    true
                }
            }
        });
        record.presence.send_replace(true);
        let replaced = record.link.replace(link);
        Attached { replaced, resumed }
    }

    /// Forgets the client's link if it is still `link_id` (a replaced link closing late
    /// must not detach its successor). Frames handed to it and not acknowledged are sent
    /// again to the next link.
    pub fn detach(&self, client_id: &str, link_id: u64) {
        let mut records = self.lock();
        if let Some(record) = records.get_mut(client_id)
            && record.link.as_ref().is_some_and(|l| l.id == link_id)
        {
            record.link = None;
            record.last_active = Instant::now();
            for kept in &mut record.kept {
                kept.handed = false;
            }
            record.presence.send_replace(false);
        }
    }

    /// The client's live link, if any.
    pub fn link(&self, client_id: &str) -> Option<Link> {
        self.lock().get(client_id).and_then(|r| r.link.clone())
    }

    /// Watches whether the client has a live link.
    pub fn presence(&self, client_id: &str) -> watch::Receiver<bool> {
        self.lock()
            .entry(client_id.to_owned())
            .or_default()
            .presence
            .subscribe()
    }

    /// Sends a frame that is not a session frame (an `execute_roll`) to the client's
    /// live link, if it has one and it takes the frame.
    pub fn send_live(&self, client_id: &str, frame: ServerFrame) -> Result<(), NotSent> {
        match self.link(client_id) {
            Some(link) => link.send(frame),
            None => Err(NotSent::Closed(Box::new(frame))),
        }
    }

    /// Numbers a session frame of `turn` and sends it to the client's live link, keeping
    /// it until it is acknowledged (or, for a client that does not resume, until it is
    /// handed to a link). `limit` is the most frames the client may have kept.
    pub fn deliver(
        &self,
        client_id: &str,
        turn: &str,
        frame: ServerFrame,
        limit: usize,
    ) -> Delivery {
        let mut records = self.lock();
        let record = records.entry(client_id.to_owned()).or_default();
        if record.kept.len() >= limit.min(self.limits.kept_frames) {
            return Delivery::Full;
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        record.push(seq, Arc::from(turn), frame.with_seq(seq))
    }

    /// The most frames a client may have kept.
    pub fn kept_limit(&self) -> usize {
        self.limits.kept_frames
    }

    /// The client has processed every session frame up to `seq`.
    pub fn acknowledge(&self, client_id: &str, seq: u64) {
        if let Some(record) = self.lock().get_mut(client_id) {
            while record.kept.front().is_some_and(|kept| kept.seq <= seq) {
                record.kept.pop_front();
            }
        }
    }

    /// Records `request_id` as a `chat_request` taken from the client; false when it was
    /// taken before (a resend after a cut), which is then not acted on again.
    pub fn take_turn_request(&self, client_id: &str, request_id: &str) -> bool {
        let mut records = self.lock();
        let record = records.entry(client_id.to_owned()).or_default();
        if record.turn_ids.iter().any(|id| &**id == request_id) {
            return false;
        }
        if record.turn_ids.len() >= REMEMBERED_TURNS {
            record.turn_ids.pop_front();
        }
        record.turn_ids.push_back(Arc::from(request_id));
        true
    }

    /// Notes that a turn of the client started (its record is not evicted meanwhile).
    pub fn turn_started(&self, client_id: &str) {
        self.lock()
            .entry(client_id.to_owned())
            .or_default()
            .running_turns += 1;
    }

    /// Notes that `turn` ended: its kept frames age from now on.
    pub fn turn_ended(&self, client_id: &str, turn: &str) {
        let now = Instant::now();
        if let Some(record) = self.lock().get_mut(client_id) {
            record.running_turns = record.running_turns.saturating_sub(1);
            record.last_active = now;
            for kept in record.kept.iter_mut().filter(|kept| &*kept.turn == turn) {
                kept.turn_ended.get_or_insert(now);
            }
        }
    }

    /// Drops kept frames whose turn ended more than the TTL ago, and evicts the records
    /// of clients gone longer than theirs. Returns (frames dropped, records evicted).
    pub fn sweep(&self) -> (usize, usize) {
        let now = Instant::now();
        let Limits {
            kept_ttl,
            client_ttl,
            ..
        } = self.limits;
        let mut records = self.lock();
        let mut dropped = 0;
        let stale = |kept: &KeptFrame| {
            kept.turn_ended
                .is_some_and(|ended| now.duration_since(ended) >= kept_ttl)
        };
        for record in records.values_mut() {
            if !record.kept.iter().any(stale) {
                continue;
            }
            let (gone, fresh): (VecDeque<KeptFrame>, VecDeque<KeptFrame>) =
                std::mem::take(&mut record.kept)
                    .into_iter()
                    .partition(stale);
            record.kept = fresh;
            dropped += gone.len();
            for kept in gone {
                record.note_dropped(kept.seq);
            }
        }
        let before = records.len();
        records.retain(|_, record| !record.evictable(now, client_ttl));
        let evicted = before - records.len();
        if records.capacity() > 64 && records.len() < records.capacity() / 4 {
            records.shrink_to_fit();
        }
        (dropped, evicted)
    }

    /// How many client records are held.
    pub fn record_count(&self) -> usize {
        self.lock().len()
    }

    /// Session frames kept for a client.
    pub fn kept_len(&self, client_id: &str) -> usize {
        self.lock().get(client_id).map_or(0, |r| r.kept.len())
    }

    /// Applies a sync whose revision is above the one held; returns the revision now
    /// held, which is the one to acknowledge.
    pub fn apply_settings(&self, client_id: &str, sync: SettingsSync) -> u64 {
        let mut records = self.lock();
        let held = &mut records.entry(client_id.to_owned()).or_default().settings;
        match held.revision {
            Some(current) if sync.revision <= current => current,
            _ => {
                held.revision = Some(sync.revision);
                held.values = sync.settings;
                sync.revision
            }
        }
    }

    /// The settings the client last synced.
    pub fn settings(&self, client_id: &str) -> HeldSettings {
        self.lock()
            .get(client_id)
            .map(|r| r.settings.clone())
            .unwrap_or_default()
    }

    /// Keeps a context frame for the AI's next turn; the oldest go first when the
    /// client's context is over its frame or byte limit. Returns false when the frame
    /// alone is over the byte limit (it is not kept).
    pub fn push_context(&self, client_id: &str, data: JsonValue) -> bool {
        let size = json_size(&data);
        if size > self.limits.context_bytes {
            return false;
        }
        let mut records = self.lock();
        let record = records.entry(client_id.to_owned()).or_default();
        record.context.push_back((data, size));
        record.context_bytes += size;
        while record.context.len() > self.limits.context_frames
            || record.context_bytes > self.limits.context_bytes
        {
            match record.context.pop_front() {
                Some((_, size)) => record.context_bytes -= size,
                None => break,
            }
        }
        true
    }

    /// Keeps the latest combat snapshot (it counts towards the byte limit alone).
    pub fn set_combat_state(&self, client_id: &str, data: JsonValue) -> bool {
        if json_size(&data) > self.limits.context_bytes {
            return false;
        }
        self.lock()
            .entry(client_id.to_owned())
            .or_default()
            .combat_state = Some(data);
        true
    }

    /// The context frames, oldest first, then the latest combat snapshot.
    pub fn context(&self, client_id: &str) -> Vec<JsonValue> {
        self.lock()
            .get(client_id)
            .map(|r| {
                r.context
                    .iter()
                    .map(|(value, _)| value.clone())
                    .chain(r.combat_state.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// About how many bytes a value takes as JSON (exact for ASCII strings without escapes).
fn json_size(value: &JsonValue) -> usize {
    match value {
        JsonValue::Null(()) => 4,
        JsonValue::Bool(_) => 5,
        JsonValue::Integer(_) | JsonValue::Float(_) => 8,
        JsonValue::String(text) => text.len() + 2,
        JsonValue::Array(items) => 2 + items.iter().map(|v| json_size(v) + 1).sum::<usize>(),
        JsonValue::Object(map) => {
            2 + map
                .iter()
                .map(|(key, v)| key.len() + 4 + json_size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::LinkReceiver;
    use gold_box_protocol::{Empty, ServerMessage};

    fn limits() -> Limits {
        Limits {
            kept_frames: 10,
            kept_ttl: Duration::from_secs(600),
            context_frames: 3,
            context_bytes: 1_000,
            client_ttl: Duration::from_secs(600),
        }
    }

    fn clients() -> Clients {
        Clients::new(limits())
    }

    fn sync(revision: u64, role: &str) -> SettingsSync {
        SettingsSync {
            revision,
            settings: JsonMap::from([("aiRole".to_owned(), JsonValue::String(role.to_owned()))]),
        }
    }

    fn frame(n: u32) -> ServerFrame {
        ServerFrame::new(ServerMessage::Pong(Empty {})).with_request_id(format!("f{n}"))
    }

    fn connected(_: Option<Resumed>) -> ServerFrame {
        frame(0)
    }

    /// Request ids and seqs queued on a link, `connected` (f0) left out.
    fn received(rx: &mut LinkReceiver) -> Vec<(String, Option<u64>)> {
        let mut out = Vec::new();
        while let Ok(frame) = rx.queue.try_recv() {
            let id = frame.request_id.unwrap_or_default();
            if id != "f0" {
                out.push((id, frame.seq));
            }
        }
        out
    }

    fn ids(frames: &[(String, Option<u64>)]) -> Vec<&str> {
        frames.iter().map(|(id, _)| id.as_str()).collect()
    }

    fn resume(instance: &str, last_seq: u64) -> ResumeFrom {
        ResumeFrom {
            instance: Some(instance.to_owned()),
            last_seq,
        }
    }

    #[test]
    fn settings_are_kept_per_client() {
        let clients = clients();
        clients.apply_settings("a", sync(1, "dm"));
        clients.apply_settings("b", sync(1, "player"));
        assert_eq!(
            clients.settings("a").values["aiRole"],
            JsonValue::String("dm".into())
        );
        assert_eq!(
            clients.settings("b").values["aiRole"],
            JsonValue::String("player".into())
        );
    }

    #[test]
    fn a_stale_revision_is_acknowledged_with_the_held_one_and_not_applied() {
        let clients = clients();
        assert_eq!(clients.apply_settings("a", sync(5, "dm")), 5);
        assert_eq!(clients.apply_settings("a", sync(3, "player")), 5);
        assert_eq!(clients.apply_settings("a", sync(5, "player")), 5);
        assert_eq!(
            clients.settings("a").values["aiRole"],
            JsonValue::String("dm".into())
        );
        assert_eq!(clients.apply_settings("a", sync(6, "player")), 6);
    }

    #[test]
    fn revision_zero_applies_on_first_sync() {
        let clients = clients();
        assert_eq!(clients.apply_settings("a", sync(0, "dm")), 0);
        assert_eq!(clients.settings("a").revision, Some(0));
    }

    #[test]
    fn a_replaced_link_closing_late_does_not_detach_its_successor() {
        let clients = clients();
        let (first, _rx1) = Link::new(1, 8);
        let (second, _rx2) = Link::new(2, 8);
        clients.attach("a", first, None, "i", connected);
        let attached = clients.attach("a", second, None, "i", connected);
        assert_eq!(attached.replaced.map(|l| l.id), Some(1));
        clients.detach("a", 1);
        assert_eq!(clients.link("a").map(|l| l.id), Some(2));
        clients.detach("a", 2);
        assert!(clients.link("a").is_none());
    }

    #[test]
    fn output_for_a_dropped_socket_is_delivered_in_order_on_return() {
        let clients = clients();
        assert_eq!(clients.deliver("a", "t", frame(1), 10), Delivery::Kept);
        assert_eq!(clients.deliver("a", "t", frame(2), 10), Delivery::Kept);
        let (link, mut rx) = Link::new(1, 16);
        clients.attach("a", link, None, "i", connected);
        assert_eq!(clients.deliver("a", "t", frame(3), 10), Delivery::Sent);
        assert_eq!(ids(&received(&mut rx)), vec!["f1", "f2", "f3"]);
        assert_eq!(
            clients.kept_len("a"),
            0,
            "a client that does not resume acks by being sent to"
        );
    }

    #[test]
    fn session_frames_are_numbered_in_increasing_order_across_clients() {
        let clients = clients();
        let (link, mut rx) = Link::new(1, 16);
        clients.attach("a", link, None, "i", connected);
        clients.deliver("b", "t", frame(1), 10);
        clients.deliver("a", "t", frame(2), 10);
        clients.deliver("a", "t", frame(3), 10);
        let seqs: Vec<u64> = received(&mut rx)
            .into_iter()
            .filter_map(|(_, s)| s)
            .collect();
        assert_eq!(seqs, vec![2, 3]);
    }

    #[test]
    fn a_resuming_client_gets_every_unacknowledged_frame_again_even_those_already_written() {
        let clients = clients();
        let (link, mut rx) = Link::new(1, 16);
        clients.attach("a", link, Some(&resume("i", 0)), "i", connected);
        clients.deliver("a", "t", frame(1), 10);
        clients.deliver("a", "t", frame(2), 10);
        clients.deliver("a", "t", frame(3), 10);
        let first = received(&mut rx);
        assert_eq!(ids(&first), vec!["f1", "f2", "f3"]);
        // The client processed f1 and acknowledged it; f2 and f3 died with the socket.
        clients.acknowledge("a", first[0].1.expect("numbered"));
        clients.detach("a", 1);
        let (link, mut rx) = Link::new(2, 16);
        let attached = clients.attach(
            "a",
            link,
            Some(&resume("i", first[0].1.unwrap_or(0))),
            "i",
            connected,
        );
        assert_eq!(
            attached.resumed,
            Some(Resumed {
                replayed: 2,
                missed: 0
            })
        );
        let again = received(&mut rx);
        assert_eq!(again, first[1..].to_vec(), "replayed with the same seqs");
    }

    #[test]
    fn a_resume_with_a_last_seq_above_a_frame_counts_as_its_ack() {
        let clients = clients();
        let (link, mut rx) = Link::new(1, 16);
        clients.attach("a", link, Some(&resume("i", 0)), "i", connected);
        clients.deliver("a", "t", frame(1), 10);
        clients.deliver("a", "t", frame(2), 10);
        let sent = received(&mut rx);
        clients.detach("a", 1);
        let (link, mut rx) = Link::new(2, 16);
        clients.attach(
            "a",
            link,
            Some(&resume("i", sent[1].1.unwrap_or(0))),
            "i",
            connected,
        );
        assert!(received(&mut rx).is_empty());
        assert_eq!(clients.kept_len("a"), 0);
    }

    #[test]
    fn a_last_seq_from_another_server_start_counts_as_zero() {
        let clients = clients();
        clients.deliver("a", "t", frame(1), 10);
        let (link, mut rx) = Link::new(1, 16);
        let attached = clients.attach("a", link, Some(&resume("old", 999)), "i", connected);
        assert_eq!(
            attached.resumed,
            Some(Resumed {
                replayed: 1,
                missed: 0
            })
        );
        assert_eq!(ids(&received(&mut rx)), vec!["f1"]);
    }

    #[test]
    fn acknowledged_frames_are_forgotten() {
        let clients = clients();
        let (link, mut rx) = Link::new(1, 16);
        clients.attach("a", link, Some(&resume("i", 0)), "i", connected);
        clients.deliver("a", "t", frame(1), 10);
        clients.deliver("a", "t", frame(2), 10);
        let sent = received(&mut rx);
        clients.acknowledge("a", sent[1].1.unwrap_or(0));
        assert_eq!(clients.kept_len("a"), 0);
    }

    #[test]
    fn a_frame_never_overtakes_an_older_one_still_waiting() {
        let clients = clients();
        let (link, mut rx) = Link::new(1, 1);
        clients.attach("a", link, None, "i", connected);
        // The queue holds `connected` only: f1 finds it full, and the link closes.
        assert_eq!(clients.deliver("a", "t", frame(1), 10), Delivery::Kept);
        assert_eq!(clients.deliver("a", "t", frame(2), 10), Delivery::Kept);
        received(&mut rx);
        clients.detach("a", 1);
        let (link, mut rx) = Link::new(2, 16);
        clients.attach("a", link, None, "i", connected);
        assert_eq!(ids(&received(&mut rx)), vec!["f1", "f2"]);
    }

    #[test]
    fn kept_frames_are_bounded() {
        let clients = clients();
        for n in 0..3 {
            assert_eq!(clients.deliver("a", "t", frame(n), 3), Delivery::Kept);
        }
        assert_eq!(clients.deliver("a", "t", frame(4), 3), Delivery::Full);
    }

    #[tokio::test(start_paused = true)]
    async fn kept_frames_age_from_the_end_of_their_own_turn() {
        let clients = clients();
        clients.turn_started("a");
        clients.deliver("a", "t1", frame(1), 10);
        clients.turn_ended("a", "t1");
        tokio::time::advance(Duration::from_secs(599)).await;
        // A second turn starts and ends long after the first.
        clients.turn_started("a");
        clients.deliver("a", "t2", frame(2), 10);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(
            clients.sweep().0,
            1,
            "only the first turn's frame is past its TTL"
        );
        clients.turn_ended("a", "t2");
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(
            clients.sweep().0,
            0,
            "the second turn's frame has a second left"
        );
        let (link, mut rx) = Link::new(1, 16);
        let attached = clients.attach("a", link, Some(&resume("i", 0)), "i", connected);
        assert_eq!(
            attached.resumed,
            Some(Resumed {
                replayed: 1,
                missed: 1
            })
        );
        assert_eq!(ids(&received(&mut rx)), vec!["f2"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_running_turns_frames_never_age() {
        let clients = clients();
        clients.turn_started("a");
        clients.deliver("a", "t", frame(1), 10);
        tokio::time::advance(Duration::from_secs(3_600)).await;
        assert_eq!(clients.sweep(), (0, 0));
        assert_eq!(clients.kept_len("a"), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn records_of_clients_that_have_gone_are_evicted_after_their_ttl() {
        let clients = clients();
        for n in 0..100 {
            let id = format!("c{n}");
            clients.push_context(&id, JsonValue::Integer(n));
            clients.apply_settings(&id, sync(1, "dm"));
        }
        let (link, _rx) = Link::new(1, 16);
        clients.attach("live", link, None, "i", connected);
        clients.turn_started("busy");
        assert_eq!(clients.record_count(), 102);
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(clients.sweep().1, 0);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(clients.sweep().1, 100);
        assert_eq!(
            clients.record_count(),
            2,
            "a live link and a running turn keep theirs"
        );
    }

    #[test]
    fn context_is_bounded_in_frames_and_bytes_and_ends_with_the_combat_state() {
        let clients = clients();
        for n in 0..5 {
            clients.push_context("a", JsonValue::Integer(n));
        }
        clients.set_combat_state("a", JsonValue::String("round 2".into()));
        assert_eq!(
            clients.context("a"),
            vec![
                JsonValue::Integer(2),
                JsonValue::Integer(3),
                JsonValue::Integer(4),
                JsonValue::String("round 2".into())
            ]
        );
        let big = JsonValue::String("x".repeat(400));
        clients.push_context("b", big.clone());
        clients.push_context("b", big.clone());
        clients.push_context("b", big.clone());
        assert_eq!(
            clients.context("b").len(),
            2,
            "three would be over 1000 bytes"
        );
        assert!(!clients.push_context("b", JsonValue::String("x".repeat(2_000))));
    }

    #[test]
    fn a_chat_request_sent_again_is_not_taken_twice() {
        let clients = clients();
        assert!(clients.take_turn_request("a", "t1"));
        assert!(!clients.take_turn_request("a", "t1"));
        assert!(clients.take_turn_request("b", "t1"), "ids are per client");
        for n in 0..REMEMBERED_TURNS {
            clients.take_turn_request("a", &format!("x{n}"));
        }
        assert!(
            clients.take_turn_request("a", "t1"),
            "bounded: the oldest is forgotten"
        );
    }

    #[test]
    fn presence_follows_attach_and_detach() {
        let clients = clients();
        let presence = clients.presence("a");
        assert!(!*presence.borrow());
        let (link, _rx) = Link::new(7, 4);
        clients.attach("a", link, None, "i", connected);
        assert!(*presence.borrow());
        clients.detach("a", 7);
        assert!(!*presence.borrow());
    }
}
