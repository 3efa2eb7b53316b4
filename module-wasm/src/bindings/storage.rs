//! Browser storage: where the client id is kept so that it survives a page reload.
//!
//! The id lives in `sessionStorage`: it survives a reload of the tab, and a second tab
//! gets an id of its own instead of taking over the first tab's connection.

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
