//! What the AI may read, and who sees a turn's output, fixed when the GM asks for the turn.
//!
//! The AI never learns what only the GMs may see while its output goes to everyone: the JS
//! module hands over the latest chat messages, each marked with whether every player can see
//! it (no whisper recipients, not blind), and [`select`] keeps the private ones only when the
//! output is for the GMs alone AND the GM allowed it (`contextIncludePrivate`). What it leaves
//! out is counted for the browser's debug log, never sent.
//!
//! The AI's dice and words go to everyone or to the game masters only (the `aiMessageMode`
//! world setting). That choice is read once, when the turn is asked for, and carried with
//! everything the turn produces: its narration (preview and final text), its rolls, its
//! regenerations and the draft the GM publishes. A GM who switches the setting while the
//! turn runs, or before publishing its draft, changes the next turn, never this one: so
//! words the AI wrote from what only the GMs may see never reach the players.

use gold_box_protocol::text::push_u64;
use gold_box_protocol::{ChatEntry, JsonValue};

/// The setting that names who sees the AI's output (`"public"` or `"gm"`).
pub const AI_MESSAGE_MODE: &str = "aiMessageMode";
/// The setting that lets the AI read private messages when its output is for the GMs only.
pub const INCLUDE_PRIVATE: &str = "contextIncludePrivate";

/// Who sees a turn's dice and words in chat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every player (the default).
    Everyone,
    /// The game masters only.
    Gms,
}

impl Audience {
    /// The `aiMessageMode` setting: the GMs only when it says `"gm"`, everyone otherwise.
    pub fn from_setting(value: Option<&JsonValue>) -> Audience {
        match value {
            Some(JsonValue::String(mode)) if mode == "gm" => Audience::Gms,
            _ => Audience::Everyone,
        }
    }

    /// The name the JS module renders (a v14 message mode key): `"public"` or `"gm"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Everyone => "public",
            Audience::Gms => "gm",
        }
    }
}

/// A turn's visibility, decided when it is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnPrivacy {
    pub audience: Audience,
    /// The AI was given messages not every player can see: its output is never public.
    pub private_context: bool,
}

impl TurnPrivacy {
    /// Output the core cannot tie to a turn this page asked for (a page reloaded since,
    /// a roll with no turn of ours open): for the game masters only, taken as private.
    pub const UNKNOWN: TurnPrivacy = TurnPrivacy {
        audience: Audience::Gms,
        private_context: true,
    };

    /// A turn whose output goes to `audience`, read from `private_context` or not. Private
    /// context forces the GMs: it never goes to everyone.
    pub fn new(audience: Audience, private_context: bool) -> TurnPrivacy {
        let audience = if private_context {
            Audience::Gms
        } else {
            audience
        };
        TurnPrivacy {
            audience,
            private_context,
        }
    }

    /// The stricter of two (the GMs over everyone; private over not).
    pub fn stricter(self, other: TurnPrivacy) -> TurnPrivacy {
        TurnPrivacy::new(
            if self.audience == Audience::Gms || other.audience == Audience::Gms {
                Audience::Gms
            } else {
                Audience::Everyone
            },
            self.private_context || other.private_context,
        )
    }
}

/// One chat message handed over as context, with whether every player can see it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextEntry {
    pub entry: ChatEntry,
    /// No whisper recipients and not blind: every player can read it.
    pub seen_by_all: bool,
}

/// Whether the AI may read private messages in a turn for `audience`: only when its output
/// goes to the GMs alone and the `contextIncludePrivate` setting says so.
pub fn private_allowed(audience: Audience, include_private: Option<&JsonValue>) -> bool {
    audience == Audience::Gms && include_private == Some(&JsonValue::Bool(true))
}

/// The context the AI may read, from [`select`].
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// Oldest first.
    pub entries: Vec<ChatEntry>,
    /// Private messages left out on the way (among those newer than the oldest kept, or
    /// all looked at when fewer than the count were kept).
    pub left_out: usize,
    /// Whether a private message is among those kept.
    pub private_kept: bool,
}

/// The latest `count` entries the AI may read: the ones every player can see, and the
/// private ones too when `allow_private`.
pub fn select(entries: Vec<ContextEntry>, count: usize, allow_private: bool) -> Selected {
    let mut kept = Vec::with_capacity(count.min(entries.len()));
    let mut left_out = 0;
    let mut private_kept = false;
    for item in entries.into_iter().rev() {
        if kept.len() >= count {
            break;
        }
        if item.seen_by_all || allow_private {
            private_kept |= !item.seen_by_all;
            kept.push(item.entry);
        } else {
            left_out += 1;
        }
    }
    kept.reverse();
    Selected {
        entries: kept,
        left_out,
        private_kept,
    }
}

/// The debug log line that counts what [`select`] left out.
pub fn left_out_note(left_out: usize) -> String {
    let mut note = String::from("Gold Box | AI context: left out ");
    push_u64(&mut note, left_out as u64);
    note.push_str(" private message(s) (whispers or blind rolls) that not every player can see");
    note
}

/// How many of the latest chat messages the JS module hands over for a turn that carries
/// `window` entries: room for private ones among them, which may be left out.
pub fn scan(window: usize) -> usize {
    window.saturating_mul(SCAN_FACTOR).min(MAX_SCAN)
}

/// How many messages are looked at per entry a turn carries.
pub const SCAN_FACTOR: usize = 4;
/// The most messages looked at for one turn.
pub const MAX_SCAN: usize = 200;

/// How many turns' visibility the core remembers (for their late output and their
/// regenerations); the oldest is forgotten first, and then counts as [`TurnPrivacy::UNKNOWN`].
pub const REMEMBERED_TURNS: usize = 64;

/// The visibility of the turns asked for on this page, oldest first.
///
/// A `Vec`, not a `VecDeque`: at most [`REMEMBERED_TURNS`] entries, so dropping the oldest
/// moves little, and a `VecDeque` of this type was its own copy of the ring-buffer code.
#[derive(Debug, Default)]
pub struct TurnPrivacies {
    turns: Vec<(String, TurnPrivacy)>,
}

impl TurnPrivacies {
    /// Remembers `request_id`'s visibility.
    pub fn insert(&mut self, request_id: String, privacy: TurnPrivacy) {
        if self.turns.len() >= REMEMBERED_TURNS {
            self.turns.remove(0);
        }
        self.turns.push((request_id, privacy));
    }

    /// The visibility of `request_id`, if this page asked for it.
    pub fn get(&self, request_id: &str) -> Option<TurnPrivacy> {
        for (id, privacy) in self.turns.iter().rev() {
            if id == request_id {
                return Some(*privacy);
            }
        }
        None
    }

    /// The visibility of `request_id`; [`TurnPrivacy::UNKNOWN`] when this page did not ask
    /// for it.
    pub fn of(&self, request_id: &str) -> TurnPrivacy {
        self.get(request_id).unwrap_or(TurnPrivacy::UNKNOWN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::ChatKind;

    fn entry(content: &str, seen_by_all: bool) -> ContextEntry {
        ContextEntry {
            entry: ChatEntry {
                speaker: "Bram".into(),
                content: content.into(),
                kind: ChatKind::Chat,
                timestamp: 1,
            },
            seen_by_all,
        }
    }

    fn contents(selected: &Selected) -> Vec<&str> {
        selected
            .entries
            .iter()
            .map(|e| e.content.as_str())
            .collect()
    }

    fn table() -> Vec<ContextEntry> {
        vec![
            entry("old public", true),
            entry("a whisper to the GM", false),
            entry("a public line", true),
            entry("a blind roll", false),
        ]
    }

    #[test]
    fn private_messages_are_left_out_and_counted() {
        let selected = select(table(), 15, false);
        assert_eq!(contents(&selected), ["old public", "a public line"]);
        assert_eq!(selected.left_out, 2);
        assert!(!selected.private_kept);
    }

    #[test]
    fn the_count_is_of_messages_kept_so_private_ones_do_not_shrink_the_context() {
        let selected = select(table(), 2, false);
        assert_eq!(contents(&selected), ["old public", "a public line"]);
        assert_eq!(selected.left_out, 2);
        let selected = select(table(), 1, false);
        assert_eq!(contents(&selected), ["a public line"]);
        assert_eq!(selected.left_out, 1, "only those looked at are counted");
    }

    #[test]
    fn private_messages_are_kept_when_allowed_and_the_turn_says_so() {
        let selected = select(table(), 15, true);
        assert_eq!(selected.entries.len(), 4);
        assert_eq!(selected.left_out, 0);
        assert!(selected.private_kept);
        let only_public = select(vec![entry("a public line", true)], 15, true);
        assert!(!only_public.private_kept);
    }

    #[test]
    fn private_messages_are_allowed_only_for_gm_output_with_the_setting_on() {
        let on = JsonValue::Bool(true);
        assert!(private_allowed(Audience::Gms, Some(&on)));
        assert!(!private_allowed(Audience::Everyone, Some(&on)));
        assert!(!private_allowed(
            Audience::Gms,
            Some(&JsonValue::Bool(false))
        ));
        assert!(!private_allowed(Audience::Gms, None));
        assert!(!private_allowed(
            Audience::Gms,
            Some(&JsonValue::String("true".into()))
        ));
    }

    #[test]
    fn the_scan_leaves_room_for_private_messages_within_a_bound() {
        assert_eq!(scan(15), 60);
        assert_eq!(scan(50), MAX_SCAN);
    }

    #[test]
    fn only_the_gm_mode_keeps_the_output_for_the_gms() {
        let mode = |s: &str| JsonValue::String(s.into());
        assert_eq!(Audience::from_setting(Some(&mode("gm"))), Audience::Gms);
        assert_eq!(
            Audience::from_setting(Some(&mode("public"))),
            Audience::Everyone
        );
        assert_eq!(Audience::from_setting(None), Audience::Everyone);
        assert_eq!(
            Audience::from_setting(Some(&JsonValue::Bool(true))),
            Audience::Everyone
        );
    }

    #[test]
    fn private_context_is_never_for_everyone() {
        let privacy = TurnPrivacy::new(Audience::Everyone, true);
        assert_eq!(privacy.audience, Audience::Gms);
        assert!(privacy.private_context);
        let public = TurnPrivacy::new(Audience::Everyone, false);
        assert_eq!(public.stricter(privacy), privacy);
        assert_eq!(public.stricter(public), public);
    }

    #[test]
    fn a_turn_not_asked_for_here_is_taken_as_private_and_the_oldest_is_forgotten() {
        let mut turns = TurnPrivacies::default();
        let public = TurnPrivacy::new(Audience::Everyone, false);
        for n in 0..=REMEMBERED_TURNS {
            turns.insert(format!("turn-{n}"), public);
        }
        assert_eq!(turns.of("turn-1"), public);
        assert_eq!(turns.of("turn-0"), TurnPrivacy::UNKNOWN);
        assert_eq!(turns.of("never"), TurnPrivacy::UNKNOWN);
    }
}
