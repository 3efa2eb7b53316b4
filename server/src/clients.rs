//! Who is connected, and what the server holds for each client: the live connection
//! (at most one per `client_id`) and the client's settings with their revision.
//!
//! Settings are kept per client, never in one global map, so two GMs' browsers never
//! overwrite each other. The lock is a plain mutex held for map operations only, never
//! across an `.await`.

use crate::ws::Outbound;
use gold_box_protocol::{JsonValue, SettingsSync};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use tokio::sync::mpsc;

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

#[derive(Debug, Default)]
struct ClientRecord {
    connection: Option<Connection>,
    settings: HeldSettings,
}

/// Every client the server has seen since it started.
#[derive(Debug, Default)]
pub struct Clients {
    records: Mutex<HashMap<String, ClientRecord>>,
}

impl Clients {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, ClientRecord>) -> R) -> R {
        // A panic while holding this lock leaves the map itself consistent (every
        // operation is a single insert or field write), so a poisoned lock is reused.
        let mut records = self
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut records)
    }

    /// Makes `connection` the client's live one; returns the one it replaces.
    pub fn attach(&self, client_id: &str, connection: Connection) -> Option<Connection> {
        self.with(|records| {
            records
                .entry(client_id.to_owned())
                .or_default()
                .connection
                .replace(connection)
        })
    }

    /// Forgets the client's connection if it is still `connection_id` (a replaced
    /// connection closing late must not detach its successor).
    pub fn detach(&self, client_id: &str, connection_id: u64) {
        self.with(|records| {
            if let Some(record) = records.get_mut(client_id)
                && record
                    .connection
                    .as_ref()
                    .is_some_and(|c| c.id == connection_id)
            {
                record.connection = None;
            }
        });
    }

    /// The client's live connection, if any.
    pub fn connection(&self, client_id: &str) -> Option<Connection> {
        self.with(|records| records.get(client_id).and_then(|r| r.connection.clone()))
    }

    /// How many clients have a live connection.
    pub fn connected_count(&self) -> usize {
        self.with(|records| records.values().filter(|r| r.connection.is_some()).count())
    }

    /// Every live connection (for shutdown).
    pub fn connections(&self) -> Vec<Connection> {
        self.with(|records| {
            records
                .values()
                .filter_map(|r| r.connection.clone())
                .collect()
        })
    }

    /// Applies a sync whose revision is above the one held; returns the revision now
    /// held, which is the one to acknowledge.
    pub fn apply_settings(&self, client_id: &str, sync: SettingsSync) -> u64 {
        self.with(|records| {
            let held = &mut records.entry(client_id.to_owned()).or_default().settings;
            match held.revision {
                Some(current) if sync.revision <= current => current,
                _ => {
                    held.revision = Some(sync.revision);
                    held.values = sync.settings;
                    sync.revision
                }
            }
        })
    }

    /// The settings the client last synced.
    pub fn settings(&self, client_id: &str) -> HeldSettings {
        self.with(|records| {
            records
                .get(client_id)
                .map(|r| r.settings.clone())
                .unwrap_or_default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(revision: u64, role: &str) -> SettingsSync {
        SettingsSync {
            revision,
            settings: BTreeMap::from([("aiRole".to_owned(), JsonValue::String(role.to_owned()))]),
        }
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
}
