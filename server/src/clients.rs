//! Who is connected, and what the server holds for each client: the live connection
//! (at most one per `client_id`), its settings with their revision, the context frames
//! for the AI's next turn, and the turn output waiting for a dropped socket to return.
//!
//! Settings are kept per client, never in one global map, so two GMs' browsers never
//! overwrite each other. The lock is a plain mutex held for map operations only, never
//! across an `.await`.

use crate::ws::Outbound;
use gold_box_protocol::{JsonValue, ServerFrame, SettingsSync};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// A live connection: its id (unique for the server's lifetime) and its send queue.
#[derive(Debug, Clone)]
pub struct Connection {
    pub id: u64,
    pub outbound: mpsc::Sender<Outbound>,
}

/// The settings a client last synced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HeldSettings {
    /// `None` until the first sync.
    pub revision: Option<u64>,
    pub values: BTreeMap<String, JsonValue>,
}

#[derive(Debug)]
struct ClientRecord {
    connection: Option<Connection>,
    settings: HeldSettings,
    /// Turn output for a dropped socket, oldest first.
    backlog: VecDeque<ServerFrame>,
    /// When the last turn of this client ended, for dropping a stale backlog.
    turn_ended: Option<Instant>,
    context: VecDeque<JsonValue>,
    combat_state: Option<JsonValue>,
    presence: watch::Sender<bool>,
}

impl Default for ClientRecord {
    fn default() -> Self {
        ClientRecord {
            connection: None,
            settings: HeldSettings::default(),
            backlog: VecDeque::new(),
            turn_ended: None,
            context: VecDeque::new(),
            combat_state: None,
            presence: watch::Sender::new(false),
        }
    }
}

/// Why turn output could not be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogFull;

/// Every client the server has seen since it started.
#[derive(Debug, Default)]
pub struct Clients {
    records: Mutex<HashMap<String, ClientRecord>>,
}

impl Clients {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, ClientRecord>> {
        // Every operation is a few field writes, so a poisoned lock still guards a
        // consistent map.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Makes `connection` the client's live one, queues its undelivered turn output on it
    /// in order, and returns the connection it replaces.
    pub fn attach(&self, client_id: &str, connection: Connection) -> Option<Connection> {
        let mut records = self.lock();
        let record = records.entry(client_id.to_owned()).or_default();
        while let Some(frame) = record.backlog.pop_front() {
            // The queue has room for a full backlog (see Config::connection_queue_frames).
            if let Err(error) = connection.outbound.try_send(Outbound::Frame(frame)) {
                if let Outbound::Frame(frame) = error.into_inner() {
                    record.backlog.push_front(frame);
                }
                break;
            }
        }
        record.presence.send_replace(true);
        record.connection.replace(connection)
    }

    /// Forgets the client's connection if it is still `connection_id` (a replaced
    /// connection closing late must not detach its successor).
    pub fn detach(&self, client_id: &str, connection_id: u64) {
        let mut records = self.lock();
        if let Some(record) = records.get_mut(client_id)
            && record
                .connection
                .as_ref()
                .is_some_and(|c| c.id == connection_id)
        {
            record.connection = None;
            record.presence.send_replace(false);
        }
    }

    /// The client's live connection, if any.
    pub fn connection(&self, client_id: &str) -> Option<Connection> {
        self.lock()
            .get(client_id)
            .and_then(|r| r.connection.clone())
    }

    /// Watches whether the client has a live connection.
    pub fn presence(&self, client_id: &str) -> watch::Receiver<bool> {
        self.lock()
            .entry(client_id.to_owned())
            .or_default()
            .presence
            .subscribe()
    }

    /// Sends turn output to the client's socket, or keeps it for the client's return
    /// while the socket is gone (at most `max_backlog` frames, in order).
    pub fn deliver(
        &self,
        client_id: &str,
        frame: ServerFrame,
        max_backlog: usize,
    ) -> Result<(), BacklogFull> {
        let mut records = self.lock();
        let record = records.entry(client_id.to_owned()).or_default();
        let frame = match (&record.connection, record.backlog.is_empty()) {
            (Some(connection), true) => {
                match connection.outbound.try_send(Outbound::Frame(frame)) {
                    Ok(()) => return Ok(()),
                    Err(error) => match error.into_inner() {
                        Outbound::Frame(frame) => frame,
                        Outbound::Close { .. } => return Ok(()),
                    },
                }
            }
            _ => frame,
        };
        if record.backlog.len() >= max_backlog {
            return Err(BacklogFull);
        }
        record.backlog.push_back(frame);
        Ok(())
    }

    /// Notes that the client's turn ended (its backlog expires from now on).
    pub fn turn_ended(&self, client_id: &str) {
        if let Some(record) = self.lock().get_mut(client_id) {
            record.turn_ended = Some(Instant::now());
        }
    }

    /// Drops backlogs whose turn ended more than `ttl` ago; returns how many frames went.
    pub fn drop_stale_backlogs(&self, ttl: Duration) -> usize {
        let now = Instant::now();
        let mut dropped = 0;
        for record in self.lock().values_mut() {
            if record
                .turn_ended
                .is_some_and(|ended| now.duration_since(ended) >= ttl)
                && !record.backlog.is_empty()
            {
                dropped += record.backlog.len();
                record.backlog = VecDeque::new();
            }
        }
        dropped
    }

    /// Undelivered turn output frames of a client.
    pub fn backlog_len(&self, client_id: &str) -> usize {
        self.lock().get(client_id).map_or(0, |r| r.backlog.len())
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

    /// Keeps a context frame for the AI's next turn (at most `max` per client).
    pub fn push_context(&self, client_id: &str, data: JsonValue, max: usize) {
        let mut records = self.lock();
        let context = &mut records.entry(client_id.to_owned()).or_default().context;
        context.push_back(data);
        while context.len() > max {
            context.pop_front();
        }
    }

    /// Keeps the latest combat snapshot.
    pub fn set_combat_state(&self, client_id: &str, data: JsonValue) {
        self.lock()
            .entry(client_id.to_owned())
            .or_default()
            .combat_state = Some(data);
    }

    /// The context frames, oldest first, then the latest combat snapshot.
    pub fn context(&self, client_id: &str) -> Vec<JsonValue> {
        self.lock()
            .get(client_id)
            .map(|r| {
                r.context
                    .iter()
                    .cloned()
                    .chain(r.combat_state.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::{Empty, ServerMessage};

    fn sync(revision: u64, role: &str) -> SettingsSync {
        SettingsSync {
            revision,
            settings: BTreeMap::from([("aiRole".to_owned(), JsonValue::String(role.to_owned()))]),
        }
    }

    fn frame(n: u32) -> ServerFrame {
        ServerFrame::new(ServerMessage::Pong(Empty {})).with_request_id(format!("f{n}"))
    }

    fn received(rx: &mut mpsc::Receiver<Outbound>) -> Vec<String> {
        let mut ids = Vec::new();
        while let Ok(Outbound::Frame(frame)) = rx.try_recv() {
            ids.push(frame.request_id.unwrap_or_default());
        }
        ids
    }

    #[test]
    fn settings_are_kept_per_client() {
        let clients = Clients::default();
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
        let clients = Clients::default();
        assert_eq!(clients.apply_settings("a", sync(5, "dm")), 5);
        assert_eq!(clients.apply_settings("a", sync(3, "player")), 5);
        assert_eq!(clients.apply_settings("a", sync(5, "player")), 5);
        assert_eq!(
            clients.settings("a").values["aiRole"],
            JsonValue::String("dm".into())
        );
        assert_eq!(clients.apply_settings("a", sync(6, "player")), 6);
        assert_eq!(
            clients.settings("a").values["aiRole"],
            JsonValue::String("player".into())
        );
    }

    #[test]
    fn revision_zero_applies_on_first_sync() {
        let clients = Clients::default();
        assert_eq!(clients.apply_settings("a", sync(0, "dm")), 0);
        assert_eq!(clients.settings("a").revision, Some(0));
    }

    #[test]
    fn a_replaced_connection_closing_late_does_not_detach_its_successor() {
        let clients = Clients::default();
        let (tx, _rx) = mpsc::channel(1);
        clients.attach(
            "a",
            Connection {
                id: 1,
                outbound: tx.clone(),
            },
        );
        let replaced = clients.attach(
            "a",
            Connection {
                id: 2,
                outbound: tx,
            },
        );
        assert_eq!(replaced.map(|c| c.id), Some(1));
        clients.detach("a", 1);
        assert_eq!(clients.connection("a").map(|c| c.id), Some(2));
        clients.detach("a", 2);
        assert!(clients.connection("a").is_none());
    }

    #[test]
    fn output_for_a_dropped_socket_is_delivered_in_order_on_return() {
        let clients = Clients::default();
        clients.deliver("a", frame(1), 10).expect("kept");
        clients.deliver("a", frame(2), 10).expect("kept");
        assert_eq!(clients.backlog_len("a"), 2);
        let (tx, mut rx) = mpsc::channel(16);
        clients.attach(
            "a",
            Connection {
                id: 1,
                outbound: tx,
            },
        );
        clients.deliver("a", frame(3), 10).expect("sent");
        assert_eq!(received(&mut rx), vec!["f1", "f2", "f3"]);
        assert_eq!(clients.backlog_len("a"), 0);
    }

    #[test]
    fn the_backlog_is_bounded() {
        let clients = Clients::default();
        for n in 0..3 {
            clients.deliver("a", frame(n), 3).expect("kept");
        }
        assert_eq!(clients.deliver("a", frame(4), 3), Err(BacklogFull));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backlog_is_dropped_after_its_turn_ended_and_the_ttl_passed() {
        let clients = Clients::default();
        clients.deliver("a", frame(1), 10).expect("kept");
        assert_eq!(
            clients.drop_stale_backlogs(Duration::from_secs(600)),
            0,
            "turn still running"
        );
        clients.turn_ended("a");
        tokio::time::advance(Duration::from_secs(599)).await;
        assert_eq!(clients.drop_stale_backlogs(Duration::from_secs(600)), 0);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(clients.drop_stale_backlogs(Duration::from_secs(600)), 1);
    }

    #[test]
    fn context_frames_are_bounded_and_end_with_the_combat_state() {
        let clients = Clients::default();
        for n in 0..5 {
            clients.push_context("a", JsonValue::Integer(n), 3);
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
    }

    #[test]
    fn presence_follows_attach_and_detach() {
        let clients = Clients::default();
        let presence = clients.presence("a");
        assert!(!*presence.borrow());
        let (tx, _rx) = mpsc::channel(1);
        clients.attach(
            "a",
            Connection {
                id: 7,
                outbound: tx,
            },
        );
        assert!(*presence.borrow());
        clients.detach("a", 7);
        assert!(!*presence.borrow());
    }
}
