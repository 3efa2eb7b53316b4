//! Browser storage: the client id and the roll outbox, kept so that they survive a page
//! reload.
//!
//! Both live in `sessionStorage`: it survives a reload of the tab, a second tab gets an
//! id and an outbox of its own instead of taking over the first tab's connection or
//! delivering its results, and nothing is left behind when the tab closes.

use crate::outbox::StoredRoll;

const OUTBOX_PREFIX: &str = "gold-box.outbox.";

const CLIENT_ID_KEY: &str = "gold-box.client-id";

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

/// The client id for `user_id`: the stored one when it belongs to this user, else a new
/// `gb-<userId>-<random>` that is stored.
pub fn client_id(user_id: &str) -> String {
    let prefix = format!("gb-{user_id}-");
    let storage = session_storage();
    let stored = storage
        .as_ref()
        .and_then(|s| s.get_item(CLIENT_ID_KEY).ok().flatten())
        .filter(|stored| stored.starts_with(&prefix) && stored.len() > prefix.len());
    if let Some(stored) = stored {
        return stored;
    }
    let random: String = (0..12)
        .map(|_| char::from_digit((js_sys::Math::random() * 36.0) as u32 % 36, 36).unwrap_or('0'))
        .collect();
    let id = format!("{prefix}{random}");
    if let Some(storage) = storage {
        let _ = storage.set_item(CLIENT_ID_KEY, &id);
    }
    id
}

/// Every stored outbox entry; unreadable ones are removed.
pub fn load_outbox() -> Vec<StoredRoll> {
    let Some(storage) = session_storage() else {
        return Vec::new();
    };
    let length = storage.length().unwrap_or(0);
    let keys: Vec<String> = (0..length)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter(|key| key.starts_with(OUTBOX_PREFIX))
        .collect();
    let mut entries = Vec::new();
    for key in keys {
        let parsed = storage
            .get_item(&key)
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str::<StoredRoll>(&text).ok());
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
    let stored = session_storage().and_then(|storage| {
        let text = serde_json::to_string(entry).ok()?;
        storage
            .set_item(&format!("{OUTBOX_PREFIX}{}", entry.request_id), &text)
            .ok()
    });
    if stored.is_none() {
        web_sys::console::warn_1(
            &"Gold Box: a roll result could not be written to browser storage".into(),
        );
    }
}

pub fn delete_outbox(request_id: &str) {
    if let Some(storage) = session_storage() {
        let _ = storage.remove_item(&format!("{OUTBOX_PREFIX}{request_id}"));
    }
}
