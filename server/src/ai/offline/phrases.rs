//! The offline provider's words: pools of sentence templates for each outcome and each
//! role's voice, and the filling-in of names and real numbers.
//!
//! A single fixed sentence per outcome reads like a machine after the second turn, so
//! every outcome has several templates and the seeded generator picks one. Every number
//! in a template comes from the dice (or from a difficulty the same turn stated): the
//! templates never invent a result.

use super::super::messages::AiRole;
use super::super::rng::Rng;

/// How an attack went.
#[derive(Debug, Clone, PartialEq)]
pub enum Strike {
    Hit {
        damage: f64,
        formula: String,
    },
    Critical {
        damage: f64,
        formula: String,
    },
    Miss,
    /// A natural 1.
    Fumble,
    /// Nobody stated an Armor Class (the AI plays a player): the GM decides.
    Unknown,
}

/// What happened this turn, with the real numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Attack {
        actor: String,
        target: String,
        weapon: &'static str,
        total: f64,
        ac: Option<i64>,
        hit: Strike,
    },
    Check {
        actor: String,
        skill: &'static str,
        total: f64,
        dc: Option<i64>,
    },
    Save {
        actor: String,
        ability: &'static str,
        total: f64,
        dc: Option<i64>,
    },
    Damage {
        actor: String,
        weapon: &'static str,
        total: f64,
        formula: String,
    },
    Initiative {
        actor: String,
        total: f64,
    },
    Explicit {
        actor: String,
        formula: String,
        total: f64,
    },
    /// The table could not roll (Foundry refused the formula, or the tool failed).
    RollFailed {
        actor: String,
        reason: String,
    },
    /// Nothing was rolled.
    Talk {
        actor: Option<String>,
        said: Option<String>,
    },
}

/// The narration of `outcome` in `role`'s voice.
pub fn narrate(role: AiRole, outcome: &Outcome, rng: &mut Rng) -> String {
    let text = match role {
        AiRole::Dm => dm(outcome, rng),
        AiRole::DmAssistant => assistant(outcome, rng),
        AiRole::Player => player(outcome, rng),
    };
    tidy(&text)
}

/// A number as a table says it: `17`, not `17.0`.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value:.1}")
    }
}

fn pick<'a>(rng: &mut Rng, pool: &[&'a str]) -> &'a str {
    rng.pick(pool).copied().unwrap_or("")
}

/// Replaces each `{key}` in `template` with its value.
fn fill(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{key}}}"), value);
    }
    text
}

/// Capitalises the first letter (templates may start with "the goblin") and trims.
fn tidy(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Whether a total meets a difficulty: `Some(true)` success, `None` when none was stated.
fn meets(total: f64, difficulty: Option<i64>) -> Option<bool> {
    difficulty.map(|d| total >= d as f64)
}

fn opt(value: Option<i64>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

fn success_detail(skill: &str, success: bool) -> &'static str {
    match (skill, success) {
        ("Stealth", true) => "Not a head turns; the shadows keep their secret.",
        ("Stealth", false) => "A loose stone clatters, and heads turn toward the sound.",
        ("Athletics", true) => "Muscle and grit carry the day.",
        ("Athletics", false) => "It does not give, not this time, and the effort costs a moment.",
        ("Perception", true) => {
            "Something small but telling stands out: a fresh scuff on the floor, a shape that should not be there."
        }
        ("Perception", false) => {
            "Nothing seems out of place, which is not the same as nothing being there."
        }
        ("Investigation", true) => "Careful hands find what careless ones would miss.",
        ("Investigation", false) => "The search turns up dust and little else.",
        ("Persuasion", true) => "The listener's shoulders ease; the words have landed.",
        ("Persuasion", false) => "A polite smile, and a firm no.",
        ("Deception", true) => "The lie goes down smoothly.",
        ("Deception", false) => "A narrowing of the eyes says the story did not hold.",
        ("Intimidation", true) => "The threat lands; there is fear in the answer.",
        ("Intimidation", false) => "The bluster is met with a cold, unimpressed stare.",
        (_, true) => "It works.",
        (_, false) => "It does not go as hoped.",
    }
}

const DM_HIT: &[&str] = &[
    "{actor}'s {weapon} finds its mark: {total} against AC {ac} is a hit, and {target} takes {damage} damage. It staggers back, looking for a way out.",
    "{total} beats {target}'s Armor Class of {ac}. {actor} drives the {weapon} home for {damage} damage, and {target} gives ground with a snarl.",
    "Steel meets flesh. With {total} against AC {ac}, {actor} hits {target} for {damage} damage. What do you do next?",
    "{target} tries to turn the blow aside, but {total} is more than its AC of {ac}: {damage} damage from {actor}'s {weapon}.",
];
const DM_CRIT: &[&str] = &[
    "A natural 20! {actor}'s {weapon} strikes {target} with devastating precision: a critical hit for {damage} damage.",
    "Critical hit! {total} against AC {ac}, and the doubled dice tear into {target} for {damage} damage.",
    "The die shows 20. {actor} finds the gap in {target}'s guard and the {weapon} bites deep: {damage} damage.",
];
const DM_MISS: &[&str] = &[
    "{actor} swings, but {total} does not beat {target}'s AC of {ac}. The {weapon} glances off, and {target} presses in.",
    "{target} twists away at the last instant: {total} against AC {ac} is a miss.",
    "A near thing, but no: {total} falls short of AC {ac}. {target} grins and readies a counterstroke.",
    "The {weapon} cuts only air. {total} against AC {ac}: {actor} misses, and {target} is still standing.",
];
const DM_FUMBLE: &[&str] = &[
    "A natural 1. {actor}'s {weapon} goes wide, and for a heartbeat {target} has the upper hand.",
    "The die shows 1: {actor} overreaches, and the blow misses {target} completely.",
];
const DM_ATTACK_UNKNOWN: &[&str] = &[
    "{actor} attacks {target} with the {weapon}: {total} to hit.",
    "{total} to hit: {actor}'s {weapon} flashes toward {target}.",
];
const DM_CHECK: &[&str] = &[
    "{actor} tries it: {total} on the {skill} check against DC {dc}. {verdict} {detail}",
    "{skill}, DC {dc}. {actor} rolls {total}: {verdict_lower} {detail}",
    "The dice decide it: {total} against DC {dc} for {actor}'s {skill} check. {verdict} {detail}",
];
const DM_SAVE: &[&str] = &[
    "{actor} braces: {total} on the {ability} saving throw against DC {dc}. {verdict} {detail}",
    "{ability} save, DC {dc}. {actor} rolls {total}: {verdict_lower} {detail}",
    "Everything depends on {actor}'s {ability}: {total} against DC {dc}. {verdict} {detail}",
];
const DM_SAVE_DETAIL: &[(bool, &str)] = &[
    (true, "The worst of it passes by."),
    (true, "Grit and luck hold firm."),
    (false, "The full force of it lands."),
    (false, "There is no escaping it this time."),
];
const DM_DAMAGE: &[&str] = &[
    "{actor}'s {weapon} deals {total} damage ({formula}).",
    "{total} damage from {actor}'s {weapon}: the blow tells.",
    "The {weapon} lands hard: {total} damage ({formula}).",
];
const DM_INITIATIVE: &[&str] = &[
    "{actor} rolls {total} for initiative. Steel is drawn; everyone find your places.",
    "Initiative: {actor} has {total}. The moment stretches, and then the fight begins.",
];
const DM_EXPLICIT: &[&str] = &[
    "{actor}'s {formula} comes up {total}.",
    "The dice say {total} ({formula}) for {actor}.",
    "{formula} for {actor}: {total}.",
];
const DM_ROLL_FAILED: &[&str] = &[
    "The dice could not be rolled ({reason}). Let's settle {actor}'s action another way: describe it, and I'll judge.",
    "No roll this time ({reason}). {actor}, tell me how you go about it instead.",
];
const DM_OPENING: &[&str] = &[
    "The session begins. Torchlight flickers over the party as the road bends toward the old keep; somewhere ahead, a bell tolls once. What do you do?",
    "Rain drums on the roof of the Drowned Lantern inn. A hooded stranger at the corner table has been watching you since you came in. What do you do?",
    "Dawn breaks cold over the hills. The trail splits here: one path climbs to a ruined watchtower, the other drops into a misty wood. Which way?",
];
const DM_TALK: &[&str] = &[
    "{actor}'s words hang in the air for a moment. The room grows quiet, and every eye turns to see what happens next. What do you do?",
    "Noted, {actor}. The world shifts around that choice: a draught stirs the torches, and far off something answers. What now?",
    "The others hear {actor} out. Nothing stands in the way just yet, but the silence feels expectant. Where do you go from here?",
    "A fair thought, {actor}. For the moment all is calm; the next move is yours.",
];

fn dm(outcome: &Outcome, rng: &mut Rng) -> String {
    match outcome {
        Outcome::Attack {
            actor,
            target,
            weapon,
            total,
            ac,
            hit,
        } => {
            let (pool, damage) = match hit {
                Strike::Hit { damage, .. } => (DM_HIT, Some(*damage)),
                Strike::Critical { damage, .. } => (DM_CRIT, Some(*damage)),
                Strike::Miss => (DM_MISS, None),
                Strike::Fumble => (DM_FUMBLE, None),
                Strike::Unknown => (DM_ATTACK_UNKNOWN, None),
            };
            fill(
                pick(rng, pool),
                &[
                    ("actor", actor.clone()),
                    ("target", target.clone()),
                    ("weapon", (*weapon).to_owned()),
                    ("total", number(*total)),
                    ("ac", opt(*ac)),
                    ("damage", damage.map(number).unwrap_or_default()),
                ],
            )
        }
        Outcome::Check {
            actor,
            skill,
            total,
            dc,
        } => {
            let success = meets(*total, *dc).unwrap_or(true);
            verdict_line(
                pick(rng, DM_CHECK),
                actor,
                ("skill", skill),
                *total,
                *dc,
                success,
                success_detail(skill, success),
            )
        }
        Outcome::Save {
            actor,
            ability,
            total,
            dc,
        } => {
            let success = meets(*total, *dc).unwrap_or(true);
            let details: Vec<&str> = DM_SAVE_DETAIL
                .iter()
                .filter(|(s, _)| *s == success)
                .map(|(_, d)| *d)
                .collect();
            verdict_line(
                pick(rng, DM_SAVE),
                actor,
                ("ability", ability),
                *total,
                *dc,
                success,
                pick(rng, &details),
            )
        }
        Outcome::Damage {
            actor,
            weapon,
            total,
            formula,
        } => fill(
            pick(rng, DM_DAMAGE),
            &[
                ("actor", actor.clone()),
                ("weapon", (*weapon).to_owned()),
                ("total", number(*total)),
                ("formula", formula.clone()),
            ],
        ),
        Outcome::Initiative { actor, total } => fill(
            pick(rng, DM_INITIATIVE),
            &[("actor", actor.clone()), ("total", number(*total))],
        ),
        Outcome::Explicit {
            actor,
            formula,
            total,
        } => fill(
            pick(rng, DM_EXPLICIT),
            &[
                ("actor", actor.clone()),
                ("formula", formula.clone()),
                ("total", number(*total)),
            ],
        ),
        Outcome::RollFailed { actor, reason } => fill(
            pick(rng, DM_ROLL_FAILED),
            &[("actor", actor.clone()), ("reason", reason.clone())],
        ),
        Outcome::Talk { actor: None, .. } => pick(rng, DM_OPENING).to_owned(),
        Outcome::Talk {
            actor: Some(actor), ..
        } => fill(pick(rng, DM_TALK), &[("actor", actor.clone())]),
    }
}

fn verdict_line(
    template: &str,
    actor: &str,
    (key, name): (&str, &str),
    total: f64,
    dc: Option<i64>,
    success: bool,
    detail: &str,
) -> String {
    let verdict = if success { "Success." } else { "Failure." };
    fill(
        template,
        &[
            ("actor", actor.to_owned()),
            (key, name.to_owned()),
            ("total", number(total)),
            ("dc", opt(dc)),
            ("verdict_lower", verdict.to_lowercase()),
            ("verdict", verdict.to_owned()),
            ("detail", detail.to_owned()),
        ],
    )
}

const ASSISTANT_SUGGEST_HIT: &[&str] = &[
    "Suggestion: describe the wound, and let {target} react: flee, rally or call for help.",
    "Suggestion: badly hurt, {target} might fall back toward cover, or try to bargain.",
    "Suggestion: if {target} is close to defeat, a morale check would fit here.",
];
const ASSISTANT_SUGGEST_MISS: &[&str] = &[
    "Suggestion: let {target} use the opening for a counterattack.",
    "Suggestion: describe the near miss, and keep the pressure on {actor}.",
    "Suggestion: {target} could press forward, or reposition while {actor} recovers.",
];
const ASSISTANT_SUGGEST_CHECK: &[&str] = &[
    "Suggestion: on a failure, consider progress at a cost rather than a dead end.",
    "Suggestion: describe the result through what the character perceives.",
    "Suggestion: if time matters, let the attempt cost a round or draw attention.",
];
const ASSISTANT_TALK: &[&str] = &[
    "Nothing in {actor}'s last message calls for a roll yet. Suggestion: answer in character, then ask the table what they do next.",
    "No roll needed for that. If {actor} tries something risky next (an attack, a climb, a lie), I can roll it: 1d20 plus the modifier against a DC you set.",
    "That is roleplay, no dice required. Suggestion: give {actor} a clear choice with a consequence either way.",
];
const ASSISTANT_OPENING: &[&str] = &[
    "The chat is empty, so there is nothing to rule on yet. Suggestion: open with a clear scene and a question, such as 'The gate is barred and a guard is watching. What do you do?'",
    "Ready when you are. When a player acts, I can call the roll (1d20 plus modifier against a DC or AC), roll it with your dice and summarise the result.",
];

fn assistant(outcome: &Outcome, rng: &mut Rng) -> String {
    match outcome {
        Outcome::Attack {
            actor,
            target,
            weapon,
            total,
            ac,
            hit,
        } => {
            let versus = ac.map(|ac| format!(" vs AC {ac}")).unwrap_or_default();
            let (verdict, pool) = match hit {
                Strike::Hit { damage, formula } => (
                    format!("hit. Damage: {} ({formula}).", number(*damage)),
                    ASSISTANT_SUGGEST_HIT,
                ),
                Strike::Critical { damage, formula } => (
                    format!(
                        "natural 20, critical hit. Damage with doubled dice: {} ({formula}).",
                        number(*damage)
                    ),
                    ASSISTANT_SUGGEST_HIT,
                ),
                Strike::Miss => ("miss.".to_owned(), ASSISTANT_SUGGEST_MISS),
                Strike::Fumble => ("natural 1, a miss.".to_owned(), ASSISTANT_SUGGEST_MISS),
                Strike::Unknown => (
                    "compare it with the target's AC.".to_owned(),
                    ASSISTANT_SUGGEST_MISS,
                ),
            };
            let suggestion = fill(
                pick(rng, pool),
                &[("actor", actor.clone()), ("target", target.clone())],
            );
            format!(
                "Attack: {actor} ({weapon}) against {target}: {}{versus}, {verdict} {suggestion}",
                number(*total)
            )
        }
        Outcome::Check {
            actor,
            skill,
            total,
            dc,
        } => assistant_verdict(
            rng,
            &format!("{skill} check for {actor}"),
            *total,
            *dc,
            "DC",
        ),
        Outcome::Save {
            actor,
            ability,
            total,
            dc,
        } => assistant_verdict(
            rng,
            &format!("{ability} saving throw for {actor}"),
            *total,
            *dc,
            "DC",
        ),
        Outcome::Damage {
            actor,
            weapon,
            total,
            formula,
        } => format!(
            "Damage for {actor} ({weapon}, {formula}): {}. Subtract it from the target's hit points.",
            number(*total)
        ),
        Outcome::Initiative { actor, total } => format!(
            "Initiative for {actor}: {}. Add it to the combat tracker.",
            number(*total)
        ),
        Outcome::Explicit {
            actor,
            formula,
            total,
        } => format!("Rolled {formula} for {actor}: {}.", number(*total)),
        Outcome::RollFailed { actor, reason } => {
            format!("I could not roll for {actor}: {reason}. You may want to roll it by hand.")
        }
        Outcome::Talk { actor: None, .. } => pick(rng, ASSISTANT_OPENING).to_owned(),
        Outcome::Talk {
            actor: Some(actor), ..
        } => fill(pick(rng, ASSISTANT_TALK), &[("actor", actor.clone())]),
    }
}

fn assistant_verdict(
    rng: &mut Rng,
    what: &str,
    total: f64,
    dc: Option<i64>,
    label: &str,
) -> String {
    let suggestion = pick(rng, ASSISTANT_SUGGEST_CHECK);
    match (dc, meets(total, dc)) {
        (Some(dc), Some(success)) => format!(
            "{what}: {} vs {label} {dc}, {}. {suggestion}",
            number(total),
            if success { "success" } else { "failure" }
        ),
        _ => format!(
            "{what}: {}. Compare it with the DC you have in mind. {suggestion}",
            number(total)
        ),
    }
}

const PLAYER_ATTACK_UNKNOWN: &[&str] = &[
    "I go for {target} with my {weapon}: {total} to hit! Does that land?",
    "Have at you! {total} to hit {target}. Is that enough?",
    "I put everything into the swing at {target}: {total}. Hit?",
];
const PLAYER_HIT: &[&str] = &[
    "Got it! {total} beats AC {ac}, and my {weapon} does {damage} damage to {target}.",
    "That's a hit on {target}: {total} against AC {ac}. {damage} damage!",
];
const PLAYER_CRIT: &[&str] = &[
    "Natural 20! My {weapon} crits {target} for {damage} damage!",
    "A 20 on the die! Critical hit on {target}: {damage} damage.",
];
const PLAYER_MISS: &[&str] = &[
    "Ugh, {total}. That misses AC {ac}. I'll keep my guard up.",
    "{total} against AC {ac}... a miss. {target} won't be so lucky next time.",
];
const PLAYER_FUMBLE: &[&str] = &[
    "A natural 1. My {weapon} nearly slips out of my hand!",
    "Rolled a 1... I stumble and miss {target} completely.",
];
const PLAYER_ROLL: &[&str] = &[
    "I give it my best: {total} on my {what}{versus}.",
    "My {what}: {total}{versus}. Fingers crossed!",
    "Here goes... {total} for my {what}{versus}.",
];
const PLAYER_TALK: &[&str] = &[
    "I look to {actor}. \"Right behind you. Where to next?\"",
    "\"Sounds good to me,\" I say, checking my gear. \"Let's keep moving.\"",
    "I keep my eyes on the shadows. \"Something about this place feels wrong. Stay close.\"",
    "\"Agreed,\" I tell {actor}. \"But if this turns ugly, I'm taking point.\"",
];
const PLAYER_OPENING: &[&str] = &[
    "I shoulder my pack and grin at the others. \"Well, adventure won't find itself. Shall we?\"",
    "\"So, who's buying the first round?\" I ask, settling in by the fire.",
];

fn player(outcome: &Outcome, rng: &mut Rng) -> String {
    match outcome {
        Outcome::Attack {
            actor: _,
            target,
            weapon,
            total,
            ac,
            hit,
        } => {
            let (pool, damage) = match hit {
                Strike::Hit { damage, .. } => (PLAYER_HIT, Some(*damage)),
                Strike::Critical { damage, .. } => (PLAYER_CRIT, Some(*damage)),
                Strike::Miss => (PLAYER_MISS, None),
                Strike::Fumble => (PLAYER_FUMBLE, None),
                Strike::Unknown => (PLAYER_ATTACK_UNKNOWN, None),
            };
            fill(
                pick(rng, pool),
                &[
                    ("target", target.clone()),
                    ("weapon", (*weapon).to_owned()),
                    ("total", number(*total)),
                    ("ac", opt(*ac)),
                    ("damage", damage.map(number).unwrap_or_default()),
                ],
            )
        }
        Outcome::Check {
            skill, total, dc, ..
        } => player_roll(rng, &format!("{skill} check"), *total, *dc),
        Outcome::Save {
            ability, total, dc, ..
        } => player_roll(rng, &format!("{ability} save"), *total, *dc),
        Outcome::Damage {
            weapon,
            total,
            formula,
            ..
        } => format!("{} damage with my {weapon} ({formula})!", number(*total)),
        Outcome::Initiative { total, .. } => {
            format!("{} for initiative. Ready!", number(*total))
        }
        Outcome::Explicit { formula, total, .. } => {
            format!("Rolled {formula}: {}.", number(*total))
        }
        Outcome::RollFailed { reason, .. } => {
            format!("My dice won't roll ({reason}). Can I roll this one by hand?")
        }
        Outcome::Talk { actor: None, .. } => pick(rng, PLAYER_OPENING).to_owned(),
        Outcome::Talk {
            actor: Some(actor), ..
        } => fill(pick(rng, PLAYER_TALK), &[("actor", actor.clone())]),
    }
}

fn player_roll(rng: &mut Rng, what: &str, total: f64, dc: Option<i64>) -> String {
    let versus = match (dc, meets(total, dc)) {
        (Some(dc), Some(true)) => format!(" against DC {dc}, that's a success"),
        (Some(dc), Some(false)) => format!(" against DC {dc}, not quite"),
        _ => String::new(),
    };
    fill(
        pick(rng, PLAYER_ROLL),
        &[
            ("what", what.to_owned()),
            ("total", number(total)),
            ("versus", versus),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attack(hit: Strike) -> Outcome {
        Outcome::Attack {
            actor: "Aria".into(),
            target: "the goblin".into(),
            weapon: "longsword",
            total: 17.0,
            ac: Some(13),
            hit,
        }
    }

    #[test]
    fn every_template_is_filled_completely() {
        let outcomes = [
            attack(Strike::Hit {
                damage: 7.0,
                formula: "1d8+3".into(),
            }),
            attack(Strike::Critical {
                damage: 12.0,
                formula: "2d8+3".into(),
            }),
            attack(Strike::Miss),
            attack(Strike::Fumble),
            attack(Strike::Unknown),
            Outcome::Check {
                actor: "Aria".into(),
                skill: "Stealth",
                total: 9.0,
                dc: Some(12),
            },
            Outcome::Save {
                actor: "Aria".into(),
                ability: "Dexterity",
                total: 15.0,
                dc: None,
            },
            Outcome::Damage {
                actor: "Aria".into(),
                weapon: "dagger",
                total: 4.0,
                formula: "1d4+3".into(),
            },
            Outcome::Initiative {
                actor: "Aria".into(),
                total: 11.0,
            },
            Outcome::Explicit {
                actor: "Aria".into(),
                formula: "2d6".into(),
                total: 8.0,
            },
            Outcome::RollFailed {
                actor: "Aria".into(),
                reason: "no dice".into(),
            },
            Outcome::Talk {
                actor: None,
                said: None,
            },
            Outcome::Talk {
                actor: Some("Aria".into()),
                said: Some("hi".into()),
            },
        ];
        for role in [AiRole::Dm, AiRole::DmAssistant, AiRole::Player] {
            for outcome in &outcomes {
                for seed in 0..20 {
                    let text = narrate(role, outcome, &mut Rng::new(seed));
                    assert!(!text.is_empty(), "{role:?} {outcome:?}");
                    assert!(!text.contains('{'), "{role:?} {outcome:?}: {text}");
                    assert!(!text.contains('}'), "{role:?} {outcome:?}: {text}");
                }
            }
        }
    }

    #[test]
    fn the_real_numbers_appear_in_the_narration() {
        for seed in 0..20 {
            let text = narrate(
                AiRole::Dm,
                &attack(Strike::Hit {
                    damage: 7.0,
                    formula: "1d8+3".into(),
                }),
                &mut Rng::new(seed),
            );
            assert!(text.contains("17"), "{text}");
            assert!(text.contains("13"), "{text}");
            assert!(text.contains('7'), "{text}");
        }
    }

    #[test]
    fn checks_say_success_or_failure_against_the_dc() {
        let check = |total| Outcome::Check {
            actor: "Aria".into(),
            skill: "Athletics",
            total,
            dc: Some(12),
        };
        for seed in 0..10 {
            let pass = narrate(AiRole::Dm, &check(12.0), &mut Rng::new(seed)).to_lowercase();
            let fail = narrate(AiRole::Dm, &check(11.0), &mut Rng::new(seed)).to_lowercase();
            assert!(pass.contains("success"), "{pass}");
            assert!(fail.contains("failure"), "{fail}");
        }
    }

    #[test]
    fn numbers_are_written_as_a_table_says_them() {
        assert_eq!(number(17.0), "17");
        assert_eq!(number(-2.0), "-2");
        assert_eq!(number(2.5), "2.5");
    }
}
