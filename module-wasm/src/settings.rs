//! Settings on their way to the server (seed item 3.1, and 3.2's debounced sync).
//!
//! A change marks the settings pending and is synced 1000 ms after the last change, with
//! a revision above every one sent before; the pending mark clears only when the server
//! acknowledges a revision that includes the latest change. Revisions start from the
//! wall clock (epoch milliseconds), so a reloaded page never reuses a revision the server
//! already holds for this client; an ack above ours lifts our floor and syncs again.

use gold_box_protocol::{JsonMap, JsonValue, MAX_SAFE_INTEGER, SettingsSync};

/// The quiet time after the last change before the settings are synced.
pub const DEBOUNCE_MS: u64 = 1_000;

/// Settings that configure the connection itself: they stay in the browser and are
/// never synced (the token is a secret).
pub const CONNECTION_KEYS: [&str; 2] = ["serverUrl", "token"];

/// What an acknowledgement means for the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckEffect {
    /// Everything changed has reached the server.
    Settled,
    /// Changes are still on their way.
    StillPending,
    /// The server holds a newer revision than ours (an older page of this tab): sync
    /// again now, above it.
    ResyncNow,
}

#[derive(Debug, Default)]
pub struct SettingsTracker {
    values: JsonMap,
    /// The last revision sent (or the floor learned from the server).
    revision: u64,
    /// Values changed since the last sync was sent.
    dirty: bool,
    /// A user change is not yet acknowledged (what the indicator shows).
    changed: bool,
    /// The revision that carries the latest change, once sent.
    change_revision: Option<u64>,
}

impl SettingsTracker {
    /// The settings known at start; synced on connect without showing as pending.
    pub fn initial(values: JsonMap) -> Self {
        SettingsTracker {
            values,
            dirty: true,
            ..SettingsTracker::default()
        }
    }

    /// A user changed a setting.
    pub fn change(&mut self, key: String, value: JsonValue) {
        self.values.insert(key, value);
        self.dirty = true;
        self.changed = true;
        self.change_revision = None;
    }

    /// The current value of a setting.
    pub fn value(&self, key: &str) -> Option<&JsonValue> {
        self.values.get(key)
    }

    /// Whether the indicator should show.
    pub fn pending(&self) -> bool {
        self.changed
    }

    /// Whether there is something not yet sent.
    pub fn dirty(&self) -> bool {
        self.dirty
    }

    /// The latest revision sent.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The sync to send now; `now_ms` is the wall clock.
    pub fn next_sync(&mut self, now_ms: u64) -> SettingsSync {
        self.revision = (self.revision + 1).max(now_ms).min(MAX_SAFE_INTEGER);
        self.dirty = false;
        if self.changed {
            self.change_revision = Some(self.revision);
        }
        SettingsSync {
            revision: self.revision,
            settings: self.values.clone(),
        }
    }

    /// The server acknowledged holding `revision`.
    pub fn on_ack(&mut self, revision: u64) -> AckEffect {
        if revision > self.revision {
            self.revision = revision;
            self.dirty = true;
            self.change_revision = None;
            return AckEffect::ResyncNow;
        }
        if self.changed && !self.dirty && self.change_revision.is_some_and(|sent| revision >= sent)
        {
            self.changed = false;
            self.change_revision = None;
            return AckEffect::Settled;
        }
        if self.changed {
            AckEffect::StillPending
        } else {
            AckEffect::Settled
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role(value: &str) -> JsonValue {
        JsonValue::String(value.into())
    }

    #[test]
    fn a_change_is_pending_until_the_ack_of_the_revision_that_carries_it() {
        let mut tracker = SettingsTracker::default();
        tracker.change("aiRole".into(), role("player"));
        assert!(tracker.pending());
        let sync = tracker.next_sync(1_000);
        assert_eq!(sync.settings["aiRole"], role("player"));
        assert!(tracker.pending(), "sent is not acknowledged");
        assert_eq!(tracker.on_ack(sync.revision), AckEffect::Settled);
        assert!(!tracker.pending());
    }

    #[test]
    fn a_change_after_a_sync_keeps_the_indicator_through_the_older_ack() {
        let mut tracker = SettingsTracker::default();
        tracker.change("aiRole".into(), role("player"));
        let first = tracker.next_sync(1_000);
        tracker.change("aiRole".into(), role("dm"));
        assert_eq!(tracker.on_ack(first.revision), AckEffect::StillPending);
        assert!(tracker.pending());
        let second = tracker.next_sync(1_001);
        assert!(second.revision > first.revision);
        assert_eq!(tracker.on_ack(second.revision), AckEffect::Settled);
        assert!(!tracker.pending());
    }

    #[test]
    fn revisions_always_increase_even_when_the_clock_does_not() {
        let mut tracker = SettingsTracker::default();
        let a = tracker.next_sync(5_000).revision;
        let b = tracker.next_sync(5_000).revision;
        let c = tracker.next_sync(4_000).revision;
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn an_ack_above_ours_lifts_the_floor_and_asks_for_a_new_sync() {
        let mut tracker = SettingsTracker::default();
        tracker.change("aiRole".into(), role("player"));
        let sync = tracker.next_sync(1_000);
        assert_eq!(tracker.on_ack(9_000), AckEffect::ResyncNow);
        assert!(tracker.pending() && tracker.dirty());
        let again = tracker.next_sync(1_100);
        assert!(again.revision > 9_000 && again.revision > sync.revision);
        assert_eq!(tracker.on_ack(again.revision), AckEffect::Settled);
    }

    #[test]
    fn the_initial_settings_sync_without_showing_as_pending() {
        let mut tracker = SettingsTracker::initial(JsonMap::from([("aiRole".into(), role("dm"))]));
        assert!(!tracker.pending());
        assert!(tracker.dirty());
        let sync = tracker.next_sync(1_000);
        assert_eq!(sync.settings.len(), 1);
        assert_eq!(tracker.on_ack(sync.revision), AckEffect::Settled);
    }
}
