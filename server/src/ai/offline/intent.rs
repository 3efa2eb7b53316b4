//! Reading the latest player message for what it calls for: an attack, a check, a saving
//! throw, damage, an explicit formula, initiative, or nothing to roll.
//!
//! This is keyword matching, not language understanding, and it says so: it looks for
//! the words players actually type at a table ("I attack the goblin with my longsword",
//! "Dex save DC 14", "I sneak past", "roll 2d6+3"), takes stated numbers (`+5`, `DC 15`,
//! `AC 13`) over defaults, and falls back to a roll-free answer when nothing matches.
//! Unstated difficulty numbers are chosen from the seeded generator, so a turn is
//! reproducible under `--ai-seed` and varied without it.

use super::super::formula;
use super::super::messages::{AiRole, TableView};
use super::super::prompts::speaker_name;
use super::super::rng::Rng;
use gold_box_protocol::{ChatEntry, ChatKind};

/// A weapon's damage dice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Weapon {
    pub name: &'static str,
    pub dice: u32,
    pub faces: u32,
}

/// When nothing names a weapon.
pub const DEFAULT_WEAPON: Weapon = Weapon {
    name: "weapon",
    dice: 1,
    faces: 8,
};

/// Damage dice of common weapons and cantrips (SRD 5.1), matched by keyword; longer
/// names first so that "short sword" is not read as "sword".
const WEAPONS: &[(&str, Weapon)] = &[
    ("greatsword", weapon("greatsword", 2, 6)),
    ("greataxe", weapon("greataxe", 1, 12)),
    ("longsword", weapon("longsword", 1, 8)),
    ("long sword", weapon("longsword", 1, 8)),
    ("shortsword", weapon("shortsword", 1, 6)),
    ("short sword", weapon("shortsword", 1, 6)),
    ("longbow", weapon("longbow", 1, 8)),
    ("shortbow", weapon("shortbow", 1, 6)),
    ("crossbow", weapon("crossbow", 1, 8)),
    ("battleaxe", weapon("battleaxe", 1, 8)),
    ("handaxe", weapon("handaxe", 1, 6)),
    ("warhammer", weapon("warhammer", 1, 8)),
    ("maul", weapon("maul", 2, 6)),
    ("rapier", weapon("rapier", 1, 8)),
    ("scimitar", weapon("scimitar", 1, 6)),
    ("dagger", weapon("dagger", 1, 4)),
    ("mace", weapon("mace", 1, 6)),
    ("spear", weapon("spear", 1, 6)),
    ("quarterstaff", weapon("quarterstaff", 1, 6)),
    ("staff", weapon("quarterstaff", 1, 6)),
    ("club", weapon("club", 1, 4)),
    ("fire bolt", weapon("fire bolt", 1, 10)),
    ("firebolt", weapon("fire bolt", 1, 10)),
    ("eldritch blast", weapon("eldritch blast", 1, 10)),
    ("sacred flame", weapon("sacred flame", 1, 8)),
    ("axe", weapon("axe", 1, 8)),
    ("sword", weapon("sword", 1, 8)),
    ("bow", weapon("bow", 1, 8)),
];

const fn weapon(name: &'static str, dice: u32, faces: u32) -> Weapon {
    Weapon { name, dice, faces }
}

/// The six abilities, by the words that name them.
const ABILITIES: &[(&[&str], &str)] = &[
    (&["strength", "str"], "Strength"),
    (&["dexterity", "dex"], "Dexterity"),
    (&["constitution", "con"], "Constitution"),
    (&["intelligence", "int"], "Intelligence"),
    (&["wisdom", "wis"], "Wisdom"),
    (&["charisma", "cha"], "Charisma"),
];

/// Skills, by their names and by the verbs players use for them.
const SKILLS: &[(&[&str], &str)] = &[
    (
        &[
            "sleight of hand",
            "pick the lock",
            "pick a lock",
            "pickpocket",
            "lockpick",
        ],
        "Sleight of Hand",
    ),
    (
        &["animal handling", "calm the horse", "soothe"],
        "Animal Handling",
    ),
    (
        &[
            "athletics",
            "climb",
            "jump",
            "swim",
            "force the door",
            "force open",
            "shove",
            "grapple",
        ],
        "Athletics",
    ),
    (&["acrobatics", "tumble", "balance", "flip"], "Acrobatics"),
    (&["stealth", "sneak", "hide", "creep"], "Stealth"),
    (
        &[
            "perception",
            "listen",
            "look around",
            "keep watch",
            "spot",
            "notice",
        ],
        "Perception",
    ),
    (
        &[
            "investigation",
            "investigate",
            "search",
            "examine",
            "inspect",
        ],
        "Investigation",
    ),
    (
        &["persuasion", "persuade", "convince", "negotiate", "plead"],
        "Persuasion",
    ),
    (&["deception", "deceive", "lie to", "bluff"], "Deception"),
    (&["intimidation", "intimidate", "threaten"], "Intimidation"),
    (
        &[
            "insight",
            "read their intent",
            "is he lying",
            "is she lying",
            "sense motive",
        ],
        "Insight",
    ),
    (&["arcana", "identify the spell"], "Arcana"),
    (&["history", "recall", "remember"], "History"),
    (&["religion", "pray", "holy symbol"], "Religion"),
    (
        &["medicine", "stabilize", "bandage", "heal the wound"],
        "Medicine",
    ),
    (
        &["survival", "track", "forage", "find the trail"],
        "Survival",
    ),
    (&["nature"], "Nature"),
    (
        &["performance", "perform", "sing", "play my lute"],
        "Performance",
    ),
];

/// Words that mean an attack.
const ATTACK_WORDS: &[&str] = &[
    "attack",
    "strike",
    "swing",
    "stab",
    "slash",
    "shoot",
    "punch",
    "smite",
    "lunge",
    "charge at",
    "fire at",
    "cast fire bolt",
    "hit the",
    "hit it",
    "cleave",
];

/// Creatures players commonly fight, to name a target when no "the ..." follows the verb.
const FOES: &[&str] = &[
    "goblin",
    "hobgoblin",
    "bugbear",
    "orc",
    "kobold",
    "skeleton",
    "zombie",
    "wolf",
    "bandit",
    "cultist",
    "guard",
    "spider",
    "rat",
    "troll",
    "ogre",
    "dragon",
    "ghoul",
    "bear",
    "knight",
    "mage",
    "priest",
    "thug",
    "imp",
    "wight",
];

/// Stated numbers and defaults for each kind of roll.
const DEFAULT_ATTACK_BONUS: i64 = 5;
const DEFAULT_DAMAGE_BONUS: i64 = 3;
const DEFAULT_CHECK_BONUS: i64 = 3;
const DEFAULT_SAVE_BONUS: i64 = 2;
const DEFAULT_INITIATIVE_BONUS: i64 = 2;
/// Difficulty classes a GM would name for an unstated check or save (easy to hard).
const DCS: &[i64] = &[10, 12, 13, 15];
/// The Armor Class range chosen from when none is stated.
const AC_RANGE: (i64, i64) = (11, 16);

/// Rolling with advantage, disadvantage or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    Normal,
    Advantage,
    Disadvantage,
}

impl Edge {
    /// The d20 part of a formula.
    pub fn d20(self) -> &'static str {
        match self {
            Edge::Normal => "1d20",
            Edge::Advantage => "2d20kh",
            Edge::Disadvantage => "2d20kl",
        }
    }
}

/// What the latest message calls for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Attack {
        actor: String,
        target: String,
        weapon: Weapon,
        bonus: i64,
        damage_bonus: i64,
        edge: Edge,
        /// `None` when the AI plays a player and nobody stated it.
        ac: Option<i64>,
    },
    Check {
        actor: String,
        skill: &'static str,
        bonus: i64,
        edge: Edge,
        dc: Option<i64>,
    },
    Save {
        actor: String,
        ability: &'static str,
        bonus: i64,
        edge: Edge,
        dc: Option<i64>,
    },
    Damage {
        actor: String,
        weapon: Weapon,
        bonus: i64,
    },
    Initiative {
        actor: String,
        bonus: i64,
    },
    /// The message wrote a formula out (`roll 2d6+3`).
    Explicit {
        actor: String,
        formula: String,
    },
    /// Nothing to roll: answer in words.
    Talk {
        actor: Option<String>,
        /// The message answered, when there is one.
        said: Option<String>,
    },
}

/// The message the AI answers: the newest one written by a person (not an AI message,
/// not a roll card, not the AI's own name).
pub fn latest_human(chat: &[ChatEntry]) -> Option<&ChatEntry> {
    let ai_names = [AiRole::Dm, AiRole::DmAssistant, AiRole::Player].map(speaker_name);
    chat.iter().rev().find(|entry| {
        matches!(entry.kind, ChatKind::Chat | ChatKind::Other)
            && !ai_names.contains(&entry.speaker.as_str())
            && !entry.content.trim().is_empty()
    })
}

/// Decides what the turn rolls, if anything.
pub fn plan(table: &TableView, rng: &mut Rng) -> Plan {
    let Some(message) = latest_human(&table.chat) else {
        return Plan::Talk {
            actor: None,
            said: None,
        };
    };
    let text = normalise(&message.content);
    // The AI playing a player rolls for its own character; otherwise for the speaker.
    let actor = match table.role {
        AiRole::Player => "I".to_owned(),
        _ => message.speaker.trim().to_owned(),
    };
    // A GM states difficulty; a player only repeats what the GM stated.
    let sets_numbers = table.role != AiRole::Player;
    let edge = edge(&text);
    let stated_bonus = stated_modifier(&text);

    if let Some(formula) = explicit_formula(&message.content) {
        return Plan::Explicit { actor, formula };
    }
    if contains_word(&text, "damage") {
        return Plan::Damage {
            actor,
            weapon: find_weapon(&text).unwrap_or(DEFAULT_WEAPON),
            bonus: stated_bonus.unwrap_or(DEFAULT_DAMAGE_BONUS),
        };
    }
    let dc = stated_number(&text, &["dc", "difficulty"])
        .or_else(|| sets_numbers.then(|| rng.pick(DCS).copied().unwrap_or(12)));
    if contains_word(&text, "save") || text.contains("saving throw") {
        let ability = ABILITIES
            .iter()
            .find(|(words, _)| words.iter().any(|w| contains_word(&text, w)))
            .map_or("Dexterity", |(_, name)| *name);
        return Plan::Save {
            actor,
            ability,
            bonus: stated_bonus.unwrap_or(DEFAULT_SAVE_BONUS),
            edge,
            dc,
        };
    }
    if contains_word(&text, "initiative") {
        return Plan::Initiative {
            actor,
            bonus: stated_bonus.unwrap_or(DEFAULT_INITIATIVE_BONUS),
        };
    }
    if let Some(skill) = SKILLS
        .iter()
        .find(|(words, _)| words.iter().any(|w| contains_word(&text, w)))
        .map(|(_, name)| *name)
        .or_else(|| contains_word(&text, "check").then_some("ability"))
    {
        return Plan::Check {
            actor,
            skill,
            bonus: stated_bonus.unwrap_or(DEFAULT_CHECK_BONUS),
            edge,
            dc,
        };
    }
    if let Some(position) = ATTACK_WORDS
        .iter()
        .filter_map(|w| find_word(&text, w))
        .min()
    {
        let ac = stated_number(&text, &["ac", "armor class", "armour class"])
            .or_else(|| sets_numbers.then(|| rng.range(AC_RANGE.0, AC_RANGE.1)));
        return Plan::Attack {
            actor,
            target: find_target(&text, position),
            weapon: find_weapon(&text).unwrap_or(DEFAULT_WEAPON),
            bonus: stated_bonus.unwrap_or(DEFAULT_ATTACK_BONUS),
            damage_bonus: DEFAULT_DAMAGE_BONUS,
            edge,
            ac,
        };
    }
    Plan::Talk {
        actor: Some(message.speaker.trim().to_owned()),
        said: Some(message.content.trim().to_owned()),
    }
}

/// Lower case, with punctuation other than `+`, `-` turned into spaces, words single-spaced
/// and padded with one space at each end (so that `" word "` matches whole words).
fn normalise(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '+' || c == '-' || c == '\'' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    format!(" {} ", words.join(" "))
}

/// Where `phrase` starts as whole words in normalised `text`; plural `s` allowed.
fn find_word(text: &str, phrase: &str) -> Option<usize> {
    let exact = format!(" {phrase} ");
    let plural = format!(" {phrase}s ");
    let past = format!(" {phrase}ed ");
    [exact, plural, past]
        .iter()
        .filter_map(|needle| text.find(needle.as_str()))
        .min()
}

fn contains_word(text: &str, phrase: &str) -> bool {
    find_word(text, phrase).is_some()
}

fn edge(text: &str) -> Edge {
    if contains_word(text, "disadvantage") {
        Edge::Disadvantage
    } else if contains_word(text, "advantage") {
        Edge::Advantage
    } else {
        Edge::Normal
    }
}

/// A number stated after one of `labels`: `DC 15`, `dc15`, `AC 13`.
fn stated_number(text: &str, labels: &[&str]) -> Option<i64> {
    let words: Vec<&str> = text.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        for label in labels {
            let label_words: Vec<&str> = label.split_whitespace().collect();
            let end = i + label_words.len();
            if words.get(i..end) == Some(&label_words[..])
                && let Some(n) = words.get(end).and_then(|w| w.parse::<i64>().ok())
            {
                return Some(n.clamp(1, 40));
            }
            if label_words.len() == 1
                && let Some(rest) = word.strip_prefix(label)
                && let Ok(n) = rest.parse::<i64>()
            {
                return Some(n.clamp(1, 40));
            }
        }
    }
    None
}

/// A modifier written as a signed number on its own: `+5`, `-1`.
fn stated_modifier(text: &str) -> Option<i64> {
    text.split_whitespace()
        .filter(|w| w.starts_with('+') || w.starts_with('-'))
        .find_map(|w| w.parse::<i64>().ok())
        .map(|n| n.clamp(-10, 20))
}

/// A dice formula written out in the message (`roll 2d6+3`, `1d20 + 4`), when it is one
/// Foundry can roll.
fn explicit_formula(text: &str) -> Option<String> {
    let tokens: Vec<String> = text
        .split_whitespace()
        .map(|t| {
            t.trim_matches(|c: char| matches!(c, ',' | '.' | '!' | '?' | ';' | ':' | '"' | '\''))
                .to_owned()
        })
        .collect();
    for (i, token) in tokens.iter().enumerate() {
        let lower = token.to_ascii_lowercase();
        let looks_like_dice = lower.contains('d')
            && lower.chars().any(|c| c.is_ascii_digit())
            && lower.chars().all(|c| {
                c.is_ascii_digit() || matches!(c, 'd' | 'k' | 'h' | 'l' | '+' | '-' | '%')
            });
        if !looks_like_dice {
            continue;
        }
        // Take a spaced-out tail along: `1d20 + 4`.
        let mut candidate = token.clone();
        let mut j = i + 1;
        while let (Some(op), Some(n)) = (tokens.get(j), tokens.get(j + 1)) {
            if (op == "+" || op == "-") && n.chars().all(|c| c.is_ascii_alphanumeric()) {
                candidate = format!("{candidate} {op} {n}");
                j += 2;
            } else {
                break;
            }
        }
        for attempt in [&candidate, token] {
            if let Ok(parsed) = formula::validate(attempt)
                && parsed.dice > 0
            {
                return Some(parsed.text);
            }
        }
    }
    None
}

fn find_weapon(text: &str) -> Option<Weapon> {
    WEAPONS
        .iter()
        .find(|(word, _)| contains_word(text, word))
        .map(|(_, weapon)| *weapon)
}

/// Words that end a target's name: "the goblin *with* my sword".
const TARGET_STOP: &[&str] = &[
    "with", "using", "and", "but", "then", "while", "before", "after", "from", "to", "in", "on",
    "at", "as", "again", "dc", "ac", "for",
];

/// The target named after the attack word ("the goblin", "the goblin archer"), else a
/// known foe anywhere in the message, else "the foe".
fn find_target(text: &str, attack_at: usize) -> String {
    let after = text.get(attack_at..).unwrap_or("");
    let words: Vec<&str> = after.split_whitespace().collect();
    if let Some(the) = words.iter().position(|w| *w == "the" || *w == "that") {
        let name: Vec<&str> = words[the + 1..]
            .iter()
            .take_while(|w| !TARGET_STOP.contains(w) && !w.starts_with(['+', '-']))
            .take(3)
            .copied()
            .collect();
        if !name.is_empty() && the <= 3 {
            return format!("the {}", name.join(" "));
        }
    }
    FOES.iter()
        .find(|foe| contains_word(text, foe))
        .map_or_else(|| "the foe".to_owned(), |foe| format!("the {foe}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(role: AiRole, messages: &[(&str, &str)]) -> TableView {
        TableView {
            role,
            chat: messages
                .iter()
                .enumerate()
                .map(|(i, (speaker, content))| ChatEntry {
                    speaker: (*speaker).into(),
                    content: (*content).into(),
                    kind: ChatKind::Chat,
                    timestamp: i as u64,
                })
                .collect(),
            turn_number: 0,
        }
    }

    fn plan_for(role: AiRole, content: &str) -> Plan {
        plan(&table(role, &[("Aria", content)]), &mut Rng::new(1))
    }

    #[test]
    fn an_attack_names_its_target_weapon_and_an_armor_class() {
        match plan_for(AiRole::Dm, "I attack the goblin with my longsword!") {
            Plan::Attack {
                actor,
                target,
                weapon,
                bonus,
                ac,
                edge,
                ..
            } => {
                assert_eq!(actor, "Aria");
                assert_eq!(target, "the goblin");
                assert_eq!(weapon.name, "longsword");
                assert_eq!((weapon.dice, weapon.faces), (1, 8));
                assert_eq!(bonus, DEFAULT_ATTACK_BONUS);
                assert!(ac.is_some_and(|ac| (11..=16).contains(&ac)));
                assert_eq!(edge, Edge::Normal);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stated_numbers_win_over_defaults() {
        match plan_for(
            AiRole::Dm,
            "I swing my greatsword at the orc, +7 to hit, AC 15",
        ) {
            Plan::Attack {
                bonus,
                ac,
                weapon,
                target,
                ..
            } => {
                assert_eq!(bonus, 7);
                assert_eq!(ac, Some(15));
                assert_eq!(weapon.name, "greatsword");
                assert_eq!(target, "the orc");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_saving_throw_names_its_ability_and_dc() {
        assert_eq!(
            plan_for(
                AiRole::Dm,
                "Ok, I make a Con save against the poison. DC 14?"
            ),
            Plan::Save {
                actor: "Aria".into(),
                ability: "Constitution",
                bonus: DEFAULT_SAVE_BONUS,
                edge: Edge::Normal,
                dc: Some(14),
            }
        );
    }

    #[test]
    fn skill_verbs_become_checks_with_advantage_when_said() {
        match plan_for(AiRole::Dm, "I try to sneak past the guards, with advantage") {
            Plan::Check {
                skill, edge, dc, ..
            } => {
                assert_eq!(skill, "Stealth");
                assert_eq!(edge, Edge::Advantage);
                assert!(dc.is_some());
            }
            other => panic!("{other:?}"),
        }
        match plan_for(AiRole::Dm, "I search the desk for hidden drawers") {
            Plan::Check { skill, .. } => assert_eq!(skill, "Investigation"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn damage_uses_the_weapon_dice() {
        assert_eq!(
            plan_for(AiRole::Dm, "Rolling damage with my dagger"),
            Plan::Damage {
                actor: "Aria".into(),
                weapon: weapon("dagger", 1, 4),
                bonus: DEFAULT_DAMAGE_BONUS,
            }
        );
    }

    #[test]
    fn an_explicit_formula_is_rolled_as_written() {
        assert_eq!(
            plan_for(AiRole::Dm, "Can you roll 2d6 + 3 for me?"),
            Plan::Explicit {
                actor: "Aria".into(),
                formula: "2d6 + 3".into(),
            }
        );
        assert_eq!(
            plan_for(AiRole::Dm, "roll 4d6dl1."),
            Plan::Explicit {
                actor: "Aria".into(),
                formula: "4d6dl1".into(),
            }
        );
    }

    #[test]
    fn plain_talk_calls_for_no_roll() {
        assert!(matches!(
            plan_for(AiRole::Dm, "Hello everyone, where are we?"),
            Plan::Talk { .. }
        ));
        assert!(matches!(
            plan(&table(AiRole::Dm, &[]), &mut Rng::new(1)),
            Plan::Talk {
                actor: None,
                said: None
            }
        ));
    }

    #[test]
    fn a_player_rolls_for_itself_and_invents_no_difficulty() {
        match plan_for(
            AiRole::Player,
            "The trap springs! Make a Dexterity saving throw.",
        ) {
            Plan::Save {
                actor, ability, dc, ..
            } => {
                assert_eq!(actor, "I");
                assert_eq!(ability, "Dexterity");
                assert_eq!(dc, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_ai_own_messages_and_roll_cards_are_not_answered() {
        let mut view = table(
            AiRole::Dm,
            &[
                ("Aria", "I attack the wolf"),
                ("Game Master", "The wolf snarls."),
            ],
        );
        view.chat.push(ChatEntry {
            speaker: "Aria".into(),
            content: "1d20+5 = 17".into(),
            kind: ChatKind::Roll,
            timestamp: 9,
        });
        assert_eq!(
            latest_human(&view.chat).map(|e| e.content.as_str()),
            Some("I attack the wolf")
        );
    }

    #[test]
    fn unstated_difficulty_depends_on_the_seed() {
        let dcs: std::collections::BTreeSet<Option<i64>> = (0..40)
            .map(|seed| {
                match plan(
                    &table(AiRole::Dm, &[("Aria", "I climb the wall")]),
                    &mut Rng::new(seed),
                ) {
                    Plan::Check { dc, .. } => dc,
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert!(dcs.len() > 1, "{dcs:?}");
    }
}
