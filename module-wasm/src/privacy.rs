//! Who sees a turn's output, fixed when the GM asks for the turn.
//!
//! The AI's dice and words go to everyone or to the game masters only (the `aiMessageMode`
//! world setting). That choice is read once, when the turn is asked for, and carried with
//! everything the turn produces: its narration (preview and final text), its rolls, its
//! regenerations and the draft the GM publishes. A GM who switches the setting while the
//! turn runs, or before publishing its draft, changes the next turn, never this one: so
//! words the AI wrote from what only the GMs may see never reach the players.

use gold_box_protocol::JsonValue;

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

/// How many turns' visibility the core remembers (for their late output and their
/// regenerations); the oldest is forgotten first, and then counts as [`TurnPrivacy::UNKNOWN`].
pub const REMEMBERED_TURNS: usize = 64;

/// The visibility of the turns asked for on this page, oldest first.
#[derive(Debug, Default)]
pub struct TurnPrivacies {
    turns: std::collections::VecDeque<(String, TurnPrivacy)>,
}

impl TurnPrivacies {
    /// Remembers `request_id`'s visibility.
    pub fn insert(&mut self, request_id: String, privacy: TurnPrivacy) {
        if self.turns.len() >= REMEMBERED_TURNS {
            self.turns.pop_front();
        }
        self.turns.push_back((request_id, privacy));
    }

    /// The visibility of `request_id`, if this page asked for it.
    pub fn get(&self, request_id: &str) -> Option<TurnPrivacy> {
        self.turns
            .iter()
            .rev()
            .find(|(id, _)| id == request_id)
            .map(|(_, privacy)| *privacy)
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
