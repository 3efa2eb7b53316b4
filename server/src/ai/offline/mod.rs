//! The offline provider: an embedded game master that needs no key and no network, so
//! that Gold Box works the moment it is installed.
//!
//! It behaves like a model as far as the turn loop can tell: it reads the conversation,
//! asks for dice through the real `roll_dice` tool call (so the execute_roll round trip,
//! validation and timeouts all run exactly as with a real model), reads the tool results
//! back from the conversation, and answers with narration built on the real totals.
//!
//! It is stateless: every call re-reads the table and the tool results so far and decides
//! the next step, the way a model re-reads its context. Its choices (unstated difficulty
//! numbers, which sentence to use) come from a generator seeded by the configured seed,
//! the turn number and the chat, so a turn is reproducible under `--ai-seed`, the same
//! within a turn from one call to the next, and different from turn to turn.

mod intent;
mod phrases;
pub mod stream;

use intent::{Plan, Weapon};
use phrases::{Outcome, Strike};

use super::messages::{Completion, CompletionRequest, Message, TableView, ToolCall, Usage};
use super::rng::{Rng, fnv1a, mix};
use super::tools::ROLL_DICE;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Generator streams, so that decisions and wording draw independently.
const STREAM_PLAN: u64 = 1;
const STREAM_WORDS: u64 = 2;

/// The embedded game master.
#[derive(Debug, Clone)]
pub struct OfflineProvider {
    seed: u64,
}

/// What a roll_dice call came back with, as read from the conversation.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Rolled {
        total: Option<f64>,
        /// The kept d20's face, when the roll's first term is a d20.
        natural: Option<i64>,
        error: Option<String>,
    },
    /// The tool refused the call (bad arguments) or the table could not roll.
    Refused(String),
}

/// The next step of the turn.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Roll { formula: String, flavor: String },
    Narrate(Outcome),
}

impl OfflineProvider {
    pub fn new(seed: u64) -> OfflineProvider {
        OfflineProvider { seed }
    }

    /// The next answer in this conversation: a roll_dice call, or the narration.
    pub fn complete(&self, request: &CompletionRequest) -> Completion {
        let base = Rng::new(turn_seed(self.seed, &request.table));
        let plan = intent::plan(&request.table, &mut base.fork(STREAM_PLAN));
        let seen = rolls_seen(&request.messages);
        let can_roll = request.tools.iter().any(|tool| tool.name == ROLL_DICE);
        match next_step(&plan, &seen, can_roll) {
            Step::Roll { formula, flavor } => Completion {
                content: None,
                tool_calls: vec![ToolCall {
                    id: format!("call_offline_{}", seen.len() + 1),
                    name: ROLL_DICE.to_owned(),
                    arguments: json!({ "rolls": [{ "formula": formula, "flavor": flavor }] })
                        .to_string(),
                }],
                usage: Some(Usage::default()),
            },
            Step::Narrate(outcome) => {
                let mut words = base.fork(STREAM_WORDS);
                Completion {
                    content: Some(phrases::narrate(request.table.role, &outcome, &mut words)),
                    tool_calls: Vec::new(),
                    usage: Some(Usage::default()),
                }
            }
        }
    }
}

/// The seed of one turn: the configured seed, the turn number and the chat.
fn turn_seed(seed: u64, table: &TableView) -> u64 {
    let mut chat = Vec::new();
    for entry in &table.chat {
        chat.extend_from_slice(entry.speaker.as_bytes());
        chat.push(0);
        chat.extend_from_slice(entry.content.as_bytes());
        chat.push(0);
    }
    mix(seed ^ mix(table.turn_number) ^ fnv1a(&chat))
}

/// The results of this turn's roll_dice calls, in order.
fn rolls_seen(messages: &[Message]) -> Vec<Seen> {
    let mut roll_calls = BTreeSet::new();
    let mut seen = Vec::new();
    for message in messages {
        match message {
            Message::Assistant { tool_calls, .. } => {
                for call in tool_calls.iter().filter(|c| c.name == ROLL_DICE) {
                    roll_calls.insert(call.id.clone());
                }
            }
            Message::Tool {
                tool_call_id,
                content,
            } if roll_calls.contains(tool_call_id) => seen.push(read_roll_result(content)),
            _ => {}
        }
    }
    seen
}

/// Reads the first roll of a roll_dice result (the offline provider asks for one roll
/// per call).
fn read_roll_result(content: &str) -> Seen {
    let Ok(value) = serde_json::from_str::<Value>(content) else {
        return Seen::Refused("the dice answered with something unreadable".to_owned());
    };
    if let Some(error) = value.get("error").and_then(Value::as_str) {
        return Seen::Refused(error.to_owned());
    }
    let Some(roll) = value.get("rolls").and_then(|r| r.get(0)) else {
        return Seen::Refused("the dice answered with no roll".to_owned());
    };
    let first_die = roll.get("dice").and_then(|d| d.get(0));
    let natural = first_die
        .filter(|die| die.get("faces").and_then(Value::as_u64) == Some(20))
        .and_then(|die| die.get("results"))
        .and_then(|results| results.get(0))
        .and_then(Value::as_i64);
    Seen::Rolled {
        total: roll.get("total").and_then(Value::as_f64),
        natural,
        error: roll.get("error").and_then(Value::as_str).map(str::to_owned),
    }
}

fn signed(bonus: i64) -> String {
    format!("{bonus:+}")
}

fn weapon_formula(weapon: Weapon, bonus: i64, critical: bool) -> String {
    let dice = if critical {
        weapon.dice * 2
    } else {
        weapon.dice
    };
    format!("{dice}d{}{}", weapon.faces, signed(bonus))
}

fn roll_for(actor: &str) -> String {
    if actor == "I" {
        "My roll".to_owned()
    } else {
        format!("Roll for {actor}")
    }
}

/// The total of a seen roll, or why there is none.
fn total_of(seen: &Seen) -> Result<(f64, Option<i64>), String> {
    match seen {
        Seen::Rolled {
            total: Some(total),
            natural,
            ..
        } => Ok((*total, *natural)),
        Seen::Rolled { error, .. } => Err(error
            .clone()
            .unwrap_or_else(|| "the roll has no total".to_owned())),
        Seen::Refused(reason) => Err(reason.clone()),
    }
}

fn next_step(plan: &Plan, seen: &[Seen], can_roll: bool) -> Step {
    let actor = match plan {
        Plan::Talk { actor, said } => {
            return Step::Narrate(Outcome::Talk {
                actor: actor.clone(),
                said: said.clone(),
            });
        }
        Plan::Attack { actor, .. }
        | Plan::Check { actor, .. }
        | Plan::Save { actor, .. }
        | Plan::Damage { actor, .. }
        | Plan::Initiative { actor, .. }
        | Plan::Explicit { actor, .. } => actor.clone(),
    };
    let failed = |reason: String| {
        Step::Narrate(Outcome::RollFailed {
            actor: actor.clone(),
            reason,
        })
    };
    // Without the dice tool (a narration written again under the GM's review), the rolls
    // already made are narrated; only a turn with none at all has nothing to go on.
    if !can_roll && seen.is_empty() {
        return failed("the dice tool is not available".to_owned());
    }
    let Some(first) = seen.first() else {
        return first_roll(plan, &actor);
    };
    let (total, natural) = match total_of(first) {
        Ok(rolled) => rolled,
        Err(reason) => return failed(reason),
    };
    let outcome = match plan {
        Plan::Attack {
            actor,
            target,
            weapon,
            damage_bonus,
            ac,
            ..
        } => {
            let critical = natural == Some(20);
            let hits = natural != Some(1) && (critical || ac.is_some_and(|ac| total >= ac as f64));
            if natural == Some(1) {
                attack_outcome(plan, total, Strike::Fumble)
            } else if ac.is_none() && !critical {
                attack_outcome(plan, total, Strike::Unknown)
            } else if !hits {
                attack_outcome(plan, total, Strike::Miss)
            } else {
                let formula = weapon_formula(*weapon, *damage_bonus, critical);
                let Some(second) = seen.get(1) else {
                    if !can_roll {
                        return failed("the damage was not rolled".to_owned());
                    }
                    return Step::Roll {
                        flavor: format!(
                            "Damage: {} on {target}{}",
                            weapon.name,
                            if critical { " (critical)" } else { "" }
                        ),
                        formula,
                    };
                };
                match total_of(second) {
                    Ok((damage, _)) if critical => {
                        attack_outcome(plan, total, Strike::Critical { damage, formula })
                    }
                    Ok((damage, _)) => attack_outcome(plan, total, Strike::Hit { damage, formula }),
                    Err(reason) => Outcome::RollFailed {
                        actor: actor.clone(),
                        reason: format!("the damage roll failed: {reason}"),
                    },
                }
            }
        }
        Plan::Check { skill, dc, .. } => Outcome::Check {
            actor,
            skill,
            total,
            dc: *dc,
        },
        Plan::Save { ability, dc, .. } => Outcome::Save {
            actor,
            ability,
            total,
            dc: *dc,
        },
        Plan::Damage { weapon, bonus, .. } => Outcome::Damage {
            actor,
            weapon: weapon.name,
            total,
            formula: weapon_formula(*weapon, *bonus, false),
        },
        Plan::Initiative { .. } => Outcome::Initiative { actor, total },
        Plan::Explicit { formula, .. } => Outcome::Explicit {
            actor,
            formula: formula.clone(),
            total,
        },
        Plan::Talk { .. } => Outcome::Talk {
            actor: Some(actor),
            said: None,
        },
    };
    Step::Narrate(outcome)
}

fn attack_outcome(plan: &Plan, total: f64, hit: Strike) -> Outcome {
    match plan {
        Plan::Attack {
            actor,
            target,
            weapon,
            ac,
            ..
        } => Outcome::Attack {
            actor: actor.clone(),
            target: target.clone(),
            weapon: weapon.name,
            total,
            ac: *ac,
            hit,
        },
        _ => Outcome::Talk {
            actor: None,
            said: None,
        },
    }
}

/// The roll a plan starts with.
fn first_roll(plan: &Plan, actor: &str) -> Step {
    let (formula, flavor) = match plan {
        Plan::Attack {
            target,
            weapon,
            bonus,
            edge,
            ac,
            ..
        } => (
            format!("{}{}", edge.d20(), signed(*bonus)),
            match ac {
                Some(ac) => format!("Attack: {} vs {target} (AC {ac})", weapon.name),
                None => format!("Attack: {} vs {target}", weapon.name),
            },
        ),
        Plan::Check {
            skill,
            bonus,
            edge,
            dc,
            ..
        } => (
            format!("{}{}", edge.d20(), signed(*bonus)),
            with_dc(format!("{skill} check"), *dc),
        ),
        Plan::Save {
            ability,
            bonus,
            edge,
            dc,
            ..
        } => (
            format!("{}{}", edge.d20(), signed(*bonus)),
            with_dc(format!("{ability} saving throw"), *dc),
        ),
        Plan::Damage { weapon, bonus, .. } => (
            weapon_formula(*weapon, *bonus, false),
            format!("Damage: {}", weapon.name),
        ),
        Plan::Initiative { bonus, .. } => (format!("1d20{}", signed(*bonus)), "Initiative".into()),
        Plan::Explicit { formula, .. } => (formula.clone(), roll_for(actor)),
        Plan::Talk { .. } => ("1d20".to_owned(), roll_for(actor)),
    };
    Step::Roll { formula, flavor }
}

fn with_dc(what: String, dc: Option<i64>) -> String {
    match dc {
        Some(dc) => format!("{what} (DC {dc})"),
        None => what,
    }
}

#[cfg(test)]
mod tests {
    use super::super::messages::AiRole;
    use super::super::tools;
    use super::*;
    use gold_box_protocol::{ChatEntry, ChatKind};

    fn request(role: AiRole, said: &str, turn_number: u64) -> CompletionRequest {
        CompletionRequest {
            messages: vec![
                Message::System("rules".into()),
                Message::User("chat".into()),
            ],
            tools: tools::definitions(),
            table: TableView {
                role,
                chat: vec![ChatEntry {
                    speaker: "Aria".into(),
                    content: said.into(),
                    kind: ChatKind::Chat,
                    timestamp: 1,
                }],
                turn_number,
            },
        }
    }

    /// Answers the provider's roll call with `total` (and a d20 face), as the loop would.
    fn answer(request: &mut CompletionRequest, completion: &Completion, total: i64, face: i64) {
        let call = completion.tool_calls.first().expect("a tool call").clone();
        let args: Value = serde_json::from_str(&call.arguments).expect("JSON arguments");
        let formula = args["rolls"][0]["formula"]
            .as_str()
            .expect("formula")
            .to_owned();
        let faces = if formula.contains("d20") { 20 } else { 8 };
        request.messages.push(Message::Assistant {
            content: None,
            tool_calls: vec![call.clone()],
        });
        request.messages.push(Message::Tool {
            tool_call_id: call.id,
            content: json!({"rolls": [{"formula": formula, "total": total,
                "dice": [{"faces": faces, "results": [face]}]}]})
            .to_string(),
        });
    }

    fn formula_of(completion: &Completion) -> String {
        let call = completion.tool_calls.first().expect("a tool call");
        assert_eq!(call.name, ROLL_DICE);
        let args: Value = serde_json::from_str(&call.arguments).expect("JSON arguments");
        args["rolls"][0]["formula"]
            .as_str()
            .expect("formula")
            .to_owned()
    }

    #[test]
    fn an_attack_rolls_to_hit_then_damage_then_narrates_both_totals() {
        let provider = OfflineProvider::new(3);
        let mut req = request(
            AiRole::Dm,
            "I attack the goblin with my longsword, AC 12",
            1,
        );
        let first = provider.complete(&req);
        assert_eq!(formula_of(&first), "1d20+5");
        answer(&mut req, &first, 17, 12);
        let second = provider.complete(&req);
        assert_eq!(formula_of(&second), "1d8+3");
        answer(&mut req, &second, 9, 6);
        let last = provider.complete(&req);
        assert!(last.tool_calls.is_empty());
        let text = last.content.expect("narration");
        assert!(text.contains("17"), "{text}");
        assert!(text.contains('9'), "{text}");
        assert!(text.contains("goblin"), "{text}");
    }

    #[test]
    fn a_miss_narrates_without_a_damage_roll() {
        let provider = OfflineProvider::new(3);
        let mut req = request(AiRole::Dm, "I attack the goblin, AC 15", 1);
        let first = provider.complete(&req);
        answer(&mut req, &first, 8, 3);
        let last = provider.complete(&req);
        assert!(last.tool_calls.is_empty());
        assert!(last.content.expect("narration").contains('8'));
    }

    #[test]
    fn a_natural_twenty_doubles_the_damage_dice() {
        let provider = OfflineProvider::new(3);
        let mut req = request(AiRole::Dm, "I stab the bandit with my dagger, AC 30", 1);
        let first = provider.complete(&req);
        answer(&mut req, &first, 25, 20);
        assert_eq!(formula_of(&provider.complete(&req)), "2d4+3");
    }

    #[test]
    fn a_check_rolls_once_and_judges_it_against_the_stated_dc() {
        let provider = OfflineProvider::new(5);
        let mut req = request(AiRole::Dm, "I climb the cliff. DC 14", 1);
        let first = provider.complete(&req);
        assert_eq!(formula_of(&first), "1d20+3");
        answer(&mut req, &first, 14, 11);
        let text = provider.complete(&req).content.expect("narration");
        assert!(text.to_lowercase().contains("success"), "{text}");
        assert!(text.contains("14"), "{text}");
    }

    #[test]
    fn talk_gets_an_answer_without_a_roll() {
        let provider = OfflineProvider::new(5);
        let completion = provider.complete(&request(AiRole::Dm, "Good evening, friends", 1));
        assert!(completion.tool_calls.is_empty());
        assert!(
            completion
                .content
                .is_some_and(|c| c.contains("friends") || !c.is_empty())
        );
    }

    #[test]
    fn a_refused_roll_is_narrated_not_retried() {
        let provider = OfflineProvider::new(5);
        let mut req = request(AiRole::Dm, "I search the room", 1);
        let first = provider.complete(&req);
        let call = first.tool_calls[0].clone();
        req.messages.push(Message::Assistant {
            content: None,
            tool_calls: vec![call.clone()],
        });
        req.messages.push(Message::Tool {
            tool_call_id: call.id,
            content: tools::error_result("the roll timed out"),
        });
        let last = provider.complete(&req);
        assert!(last.tool_calls.is_empty());
        assert!(last.content.expect("narration").contains("timed out"));
    }

    #[test]
    fn the_same_seed_and_turn_give_the_same_words() {
        let a = OfflineProvider::new(99).complete(&request(AiRole::Dm, "Where are we?", 4));
        let b = OfflineProvider::new(99).complete(&request(AiRole::Dm, "Where are we?", 4));
        assert_eq!(a, b);
    }

    #[test]
    fn different_seeds_and_turns_give_varied_words() {
        let by_seed: BTreeSet<Option<String>> = (0..20)
            .map(|seed| {
                OfflineProvider::new(seed)
                    .complete(&request(AiRole::Dm, "Where are we?", 1))
                    .content
            })
            .collect();
        assert!(by_seed.len() > 2, "{by_seed:?}");
        let provider = OfflineProvider::new(7);
        let by_turn: BTreeSet<Option<String>> = (0..20)
            .map(|turn| {
                provider
                    .complete(&request(AiRole::Dm, "Where are we?", turn))
                    .content
            })
            .collect();
        assert!(by_turn.len() > 2, "{by_turn:?}");
    }

    #[test]
    fn each_role_speaks_in_its_own_voice() {
        let provider = OfflineProvider::new(11);
        let mut texts = Vec::new();
        for role in [AiRole::Dm, AiRole::DmAssistant, AiRole::Player] {
            let mut req = request(role, "Make a Dexterity saving throw, DC 13", 1);
            let first = provider.complete(&req);
            assert_eq!(formula_of(&first), "1d20+2");
            answer(&mut req, &first, 15, 13);
            texts.push(provider.complete(&req).content.expect("narration"));
        }
        assert!(
            texts[2].contains("my"),
            "player speaks in the first person: {}",
            texts[2]
        );
        assert!(texts[1].contains("saving throw for Aria"), "{}", texts[1]);
        assert!(texts.iter().all(|t| t.contains("15")), "{texts:?}");
    }
}
