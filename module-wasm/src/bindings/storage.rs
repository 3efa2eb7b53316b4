//! Browser storage: the client id, the roll outbox and the settled markers, kept so that
//! they survive a page reload.
//!
//! Both live in `sessionStorage`: it survives a reload of the tab, a second tab gets an
//! id and an outbox of its own instead of taking over the first tab's connection or
//! delivering its results, and nothing is left behind when the tab closes.

use crate::machine::ResumePoint;
use crate::outbox::StoredRoll;
use crate::settled::SettledRoll;
use gold_box_protocol::json::{FromJson, ToJson};
use gold_box_protocol::text::concat;

const OUTBOX_PREFIX: &str = "gold-box.outbox.";
/// Settled markers have their own prefix: the outbox keys hold only what still waits
/// for the server.
const SETTLED_PREFIX: &str = "gold-box.settled.";

const CLIENT_ID_KEY: &str = "gold-box.client-id";

/// Where the session stream was left (resumable delivery), so a reload resumes.
const RESUME_KEY: &str = "gold-box.resume";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The client id for `user_id`: the stored one when it belongs to this user, else a new
/// `gb-<userId>-<random>` that is stored.
pub fn client_id(user_id: &str) -> String {
    let prefix = concat(&["gb-", user_id, "-"]);
    let storage = session_storage();
    let stored = storage
        .as_ref()
        .and_then(|s| s.get_item(CLIENT_ID_KEY).ok().flatten())
        .filter(|stored| stored.starts_with(&prefix) && stored.len() > prefix.len());
    if let Some(stored) = stored {
        return stored;
    }
    let mut id = prefix;
    for _ in 0..12 {
        id.push(char::from_digit((js_sys::Math::random() * 36.0) as u32 % 36, 36).unwrap_or('0'));
    }
    if let Some(storage) = storage {
        let _ = storage.set_item(CLIENT_ID_KEY, &id);
    }
    id
}

/// Every stored outbox entry; unreadable ones are removed.
pub fn load_outbox() -> Vec<StoredRoll> {
    load_all(OUTBOX_PREFIX)
}

/// Every stored settled marker; unreadable ones are removed.
pub fn load_settled() -> Vec<SettledRoll> {
    load_all(SETTLED_PREFIX)
}

fn load_all<T: FromJson>(prefix: &str) -> Vec<T> {
    let Some(storage) = session_storage() else {
        return Vec::new();
    };
    let length = storage.length().unwrap_or(0);
    // Plain loops here: iterator adapters are compiled once per use.
    let mut keys: Vec<String> = Vec::new();
    for i in 0..length {
        if let Some(key) = storage.key(i).ok().flatten()
            && key.starts_with(prefix)
        {
            keys.push(key);
        }
    }
    let mut entries = Vec::new();
    for key in keys {
        let parsed = storage
            .get_item(&key)
            .ok()
            .flatten()
            .and_then(|text| crate::wire::decode::<T>(&text));
        match parsed {
            Some(entry) => entries.push(entry),
            None => {
                let _ = storage.remove_item(&key);
            }
        }
    }
    entries
}

/// Writes an entry; a failure (storage full or disabled) is reported, and delivery goes
/// on from memory.
pub fn store_outbox(entry: &StoredRoll) {
    store(OUTBOX_PREFIX, &entry.request_id, entry, "a roll result");
}

/// Writes a settled marker; a failure is reported, and the marker is kept in memory.
pub fn store_settled(marker: &SettledRoll) {
    store(
        SETTLED_PREFIX,
        &marker.request_id,
        marker,
        "a settled roll marker",
    );
}

fn store<T: ToJson>(prefix: &str, request_id: &str, value: &T, what: &str) {
    let stored = session_storage().and_then(|storage| {
        let text = crate::wire::encode(value);
        storage.set_item(&concat(&[prefix, request_id]), &text).ok()
    });
    if stored.is_none() {
        web_sys::console::warn_1(
            &concat(&[
                "Gold Box: ",
                what,
                " could not be written to browser storage",
            ])
            .into(),
        );
    }
}

pub fn delete_outbox(request_id: &str) {
    remove(&concat(&[OUTBOX_PREFIX, request_id]));
}

pub fn delete_settled(request_id: &str) {
    remove(&concat(&[SETTLED_PREFIX, request_id]));
}

fn remove(key: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(key);
    }
}

/// The stored resume point; an unreadable one is removed.
pub fn load_resume() -> Option<ResumePoint> {
    let storage = session_storage()?;
    let text = storage.get_item(RESUME_KEY).ok().flatten()?;
    let parsed = crate::wire::decode(&text);
    if parsed.is_none() {
        let _ = storage.remove_item(RESUME_KEY);
    }
    parsed
}

/// Writes the resume point; a failure is reported (a reload would then resume from an
/// older point, and the server's replay is filtered by the point held in memory until
/// then).
pub fn store_resume(point: &ResumePoint) {
    let stored = session_storage().and_then(|storage| {
        let text = crate::wire::encode(point);
        storage.set_item(RESUME_KEY, &text).ok()
    });
    if stored.is_none() {
        web_sys::console::warn_1(
            &"Gold Box: the resume point could not be written to browser storage".into(),
        );
    }
}
