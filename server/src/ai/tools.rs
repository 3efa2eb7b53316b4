//! The tools the AI may call, their JSON-schema definitions, and the reading of the
//! arguments a model wrote.
//!
//! Models make mistakes in tool arguments: invalid JSON, a missing field, a formula
//! Foundry cannot roll. None of these ends the turn: each becomes a tool result that says
//! what was wrong and what was expected, so the model can correct itself on the next
//! iteration. Only the table itself failing (a roll that never comes back) ends a turn,
//! and that is decided in `turn.rs`, not here.
//!
//! Tool results are JSON text (`{"rolls": [...]}`, `{"error": "..."}`): every model
//! reads JSON, and the offline provider reads the same text back.

use super::formula;
use super::messages::{ToolCall, ToolSpec};
use gold_box_protocol::{ChatEntry, ChatKind, RollOutcome, RollRequest};
use serde::Deserialize;
use serde_json::{Value, json};

pub const ROLL_DICE: &str = "roll_dice";
pub const POST_MESSAGE: &str = "post_message";
pub const GET_MESSAGE_HISTORY: &str = "get_message_history";

/// The most rolls one `roll_dice` call may ask for.
pub const MAX_ROLLS_PER_CALL: usize = 10;
/// The longest flavor text passed to Foundry, in characters (longer ones are cut).
pub const MAX_FLAVOR_CHARS: usize = 120;
/// The longest message `post_message` accepts, in characters.
pub const MAX_POST_CHARS: usize = 4_000;
/// The most messages `get_message_history` returns.
pub const MAX_HISTORY_COUNT: usize = 50;

/// The three tools, as the model sees them.
pub fn definitions() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: ROLL_DICE,
            description: "Roll dice with the table's own dice (Foundry VTT); the rolls appear in \
                          the chat and their results come back. Use Foundry formulas such as \
                          1d20+5, 2d6+3, 2d20kh1+4 (advantage) or 2d20kl1 (disadvantage).",
            parameters: json!({
                "type": "object",
                "properties": {
                    "rolls": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_ROLLS_PER_CALL,
                        "items": {
                            "type": "object",
                            "properties": {
                                "formula": {"type": "string", "description": "A dice formula, e.g. 1d20+5"},
                                "flavor": {"type": "string", "description": "What the roll is for, e.g. Attack: longsword"}
                            },
                            "required": ["formula"]
                        }
                    }
                },
                "required": ["rolls"]
            }),
        },
        ToolSpec {
            name: POST_MESSAGE,
            description: "Post a message to the table's chat now, before your final answer \
                          (for example, to describe what happens before asking for a roll).",
            parameters: json!({
                "type": "object",
                "properties": {
                    "content": {"type": "string", "description": "The message, as plain text"}
                },
                "required": ["content"]
            }),
        },
        ToolSpec {
            name: GET_MESSAGE_HISTORY,
            description: "Read more of the recent chat than you were given, newest last.",
            parameters: json!({
                "type": "object",
                "properties": {
                    "count": {"type": "integer", "minimum": 1, "maximum": MAX_HISTORY_COUNT,
                              "description": "How many of the most recent messages to read"}
                },
                "required": ["count"]
            }),
        },
    ]
}

/// A tool call whose arguments were read successfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolInvocation {
    /// Validated rolls, ready for the browser.
    RollDice(Vec<RollRequest>),
    PostMessage(String),
    GetMessageHistory(usize),
}

#[derive(Deserialize)]
struct RollDiceArgs {
    rolls: Vec<RollArg>,
}

#[derive(Deserialize)]
struct RollArg {
    formula: String,
    #[serde(default)]
    flavor: Option<String>,
}

#[derive(Deserialize)]
struct PostMessageArgs {
    content: String,
}

#[derive(Deserialize)]
struct HistoryArgs {
    count: u64,
}

/// Reads a call's arguments. `Err` holds the tool result to give the model: what was
/// wrong and what a correct call looks like.
pub fn parse(call: &ToolCall) -> Result<ToolInvocation, String> {
    let example = match call.name.as_str() {
        ROLL_DICE => r#"{"rolls":[{"formula":"1d20+5","flavor":"Attack"}]}"#,
        POST_MESSAGE => r#"{"content":"The door creaks open."}"#,
        GET_MESSAGE_HISTORY => r#"{"count":10}"#,
        other => {
            return Err(error_result(format!(
                "there is no tool named {other:?}; the tools are {ROLL_DICE}, {POST_MESSAGE} \
                 and {GET_MESSAGE_HISTORY}"
            )));
        }
    };
    // Some models send an empty string for "no arguments"; read it as `{}` so that the
    // error names the missing field rather than complaining about JSON.
    let text = if call.arguments.trim().is_empty() {
        "{}"
    } else {
        call.arguments.as_str()
    };
    let value: Value = serde_json::from_str(text).map_err(|e| {
        error_result(format!(
            "the arguments of {} are not valid JSON ({e}); send an object like {example}",
            call.name
        ))
    })?;
    let shape_error = |e: serde_json::Error| {
        error_result(format!(
            "the arguments of {} do not fit: {e}; send an object like {example}",
            call.name
        ))
    };
    match call.name.as_str() {
        ROLL_DICE => {
            let args: RollDiceArgs = serde_json::from_value(value).map_err(shape_error)?;
            roll_requests(args).map(ToolInvocation::RollDice)
        }
        POST_MESSAGE => {
            let args: PostMessageArgs = serde_json::from_value(value).map_err(shape_error)?;
            let content = args.content.trim();
            if content.is_empty() {
                return Err(error_result("content is empty: there is nothing to post"));
            }
            Ok(ToolInvocation::PostMessage(truncate_chars(
                content,
                MAX_POST_CHARS,
            )))
        }
        _ => {
            let args: HistoryArgs = serde_json::from_value(value).map_err(shape_error)?;
            let count = usize::try_from(args.count)
                .unwrap_or(MAX_HISTORY_COUNT)
                .clamp(1, MAX_HISTORY_COUNT);
            Ok(ToolInvocation::GetMessageHistory(count))
        }
    }
}

fn roll_requests(args: RollDiceArgs) -> Result<Vec<RollRequest>, String> {
    if args.rolls.is_empty() {
        return Err(error_result(
            "rolls is empty: ask for at least one roll, like {\"formula\":\"1d20+5\"}",
        ));
    }
    if args.rolls.len() > MAX_ROLLS_PER_CALL {
        return Err(error_result(format!(
            "{} rolls in one call; ask for at most {MAX_ROLLS_PER_CALL}",
            args.rolls.len()
        )));
    }
    let mut requests = Vec::with_capacity(args.rolls.len());
    for (index, roll) in args.rolls.into_iter().enumerate() {
        let formula = formula::validate(&roll.formula).map_err(|e| {
            error_result(format!(
                "rolls[{index}].formula {:?} cannot be rolled: {e}. Nothing was rolled; \
                 correct the formula and call {ROLL_DICE} again",
                roll.formula
            ))
        })?;
        let flavor = roll
            .flavor
            .map(|f| truncate_chars(f.trim(), MAX_FLAVOR_CHARS))
            .filter(|f| !f.is_empty());
        requests.push(RollRequest {
            formula: formula.text,
            flavor,
        });
    }
    Ok(requests)
}

/// The result of a tool that failed, as the model reads it.
pub fn error_result(message: impl Into<String>) -> String {
    json!({ "error": message.into() }).to_string()
}

/// The result of `roll_dice`: each roll's formula, total and dice.
pub fn roll_result(outcomes: &[RollOutcome]) -> String {
    let rolls: Vec<Value> = outcomes
        .iter()
        .map(|outcome| {
            let mut roll = json!({ "formula": outcome.formula });
            if let Some(flavor) = &outcome.flavor {
                roll["flavor"] = json!(flavor);
            }
            roll["total"] = match outcome.total {
                Some(total) if total.fract() == 0.0 && total.abs() < 1e15 => json!(total as i64),
                Some(total) => json!(total),
                None => Value::Null,
            };
            if let Some(error) = &outcome.error {
                roll["error"] = json!(error);
            }
            let dice: Vec<Value> = outcome
                .dice
                .iter()
                .map(|term| {
                    let kept: Vec<i64> = term
                        .results
                        .iter()
                        .filter(|d| d.active)
                        .map(|d| d.result)
                        .collect();
                    let dropped: Vec<i64> = term
                        .results
                        .iter()
                        .filter(|d| !d.active)
                        .map(|d| d.result)
                        .collect();
                    let mut die = json!({ "faces": term.faces, "results": kept });
                    if !dropped.is_empty() {
                        die["dropped"] = json!(dropped);
                    }
                    die
                })
                .collect();
            roll["dice"] = Value::Array(dice);
            roll
        })
        .collect();
    json!({ "rolls": rolls }).to_string()
}

/// The result of `post_message`.
pub fn posted_result() -> String {
    json!({ "posted": true }).to_string()
}

/// The result of `get_message_history`: the newest `count` messages of the request's
/// chat that fit in `budget_chars`, oldest first.
pub fn history_result(chat: &[ChatEntry], count: usize, budget_chars: usize) -> String {
    let mut used = 0usize;
    let mut picked: Vec<Value> = Vec::new();
    for entry in chat.iter().rev().take(count) {
        let size = entry.speaker.chars().count() + entry.content.chars().count() + 32;
        if used + size > budget_chars && !picked.is_empty() {
            break;
        }
        used += size;
        picked.push(json!({
            "speaker": entry.speaker,
            "kind": kind_name(entry.kind),
            "content": truncate_chars(&entry.content, budget_chars),
        }));
    }
    picked.reverse();
    json!({ "messages": picked, "available": chat.len() }).to_string()
}

pub fn kind_name(kind: ChatKind) -> &'static str {
    match kind {
        ChatKind::Chat => "chat",
        ChatKind::Roll => "roll",
        ChatKind::Ai => "ai",
        ChatKind::Other => "other",
    }
}

/// `text` cut to at most `max` characters (on a character boundary), marked with `…`.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use gold_box_protocol::{DieResult, DieTerm};

    fn call(name: &str, arguments: &str) -> ToolCall {
        ToolCall {
            id: "call_1".into(),
            name: name.into(),
            arguments: arguments.into(),
        }
    }

    fn error_text(result: Result<ToolInvocation, String>) -> String {
        let text = result.expect_err("refused");
        let value: Value = serde_json::from_str(&text).expect("the error is JSON");
        value["error"].as_str().expect("an error field").to_owned()
    }

    #[test]
    fn every_tool_has_an_object_schema_with_required_fields() {
        let tools = definitions();
        let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        assert_eq!(names, [ROLL_DICE, POST_MESSAGE, GET_MESSAGE_HISTORY]);
        for tool in tools {
            assert_eq!(tool.parameters["type"], "object", "{}", tool.name);
            assert!(tool.parameters["required"].is_array(), "{}", tool.name);
        }
    }

    #[test]
    fn good_roll_arguments_become_validated_requests() {
        let parsed = parse(&call(
            ROLL_DICE,
            r#"{"rolls":[{"formula":" 1d20+5 ","flavor":"Attack"},{"formula":"2d6"}]}"#,
        ));
        assert_eq!(
            parsed,
            Ok(ToolInvocation::RollDice(vec![
                RollRequest {
                    formula: "1d20+5".into(),
                    flavor: Some("Attack".into())
                },
                RollRequest {
                    formula: "2d6".into(),
                    flavor: None
                },
            ]))
        );
    }

    #[test]
    fn arguments_that_are_not_json_get_an_error_with_an_example() {
        let message = error_text(parse(&call(ROLL_DICE, r#"{"rolls": [{"formula": "1d20""#)));
        assert!(message.contains("not valid JSON"), "{message}");
        assert!(message.contains(r#"{"rolls":[{"formula""#), "{message}");
    }

    #[test]
    fn a_missing_field_is_named() {
        let message = error_text(parse(&call(ROLL_DICE, r#"{"formula":"1d20"}"#)));
        assert!(message.contains("missing field `rolls`"), "{message}");
        let message = error_text(parse(&call(POST_MESSAGE, "")));
        assert!(message.contains("missing field `content`"), "{message}");
    }

    #[test]
    fn a_bad_formula_is_refused_before_the_browser_is_asked() {
        let message = error_text(parse(&call(
            ROLL_DICE,
            r#"{"rolls":[{"formula":"1d20"},{"formula":"2d"}]}"#,
        )));
        assert!(message.contains("rolls[1].formula \"2d\""), "{message}");
        assert!(message.contains("no number of faces"), "{message}");
        assert!(message.contains("Nothing was rolled"), "{message}");
    }

    #[test]
    fn empty_and_oversized_roll_lists_are_refused() {
        assert!(error_text(parse(&call(ROLL_DICE, r#"{"rolls":[]}"#))).contains("empty"));
        let many = format!(
            r#"{{"rolls":[{}]}}"#,
            [r#"{"formula":"1d4"}"#; 11].join(",")
        );
        assert!(error_text(parse(&call(ROLL_DICE, &many))).contains("at most 10"));
    }

    #[test]
    fn an_unknown_tool_is_named_with_the_real_ones() {
        let message = error_text(parse(&call("cast_spell", "{}")));
        assert!(message.contains("cast_spell"), "{message}");
        assert!(message.contains(ROLL_DICE), "{message}");
    }

    #[test]
    fn post_message_and_history_arguments_are_read_and_bounded() {
        assert_eq!(
            parse(&call(POST_MESSAGE, r#"{"content":"  Hello  "}"#)),
            Ok(ToolInvocation::PostMessage("Hello".into()))
        );
        assert!(error_text(parse(&call(POST_MESSAGE, r#"{"content":"  "}"#))).contains("empty"));
        assert_eq!(
            parse(&call(GET_MESSAGE_HISTORY, r#"{"count":500}"#)),
            Ok(ToolInvocation::GetMessageHistory(MAX_HISTORY_COUNT))
        );
        assert_eq!(
            parse(&call(GET_MESSAGE_HISTORY, r#"{"count":0}"#)),
            Ok(ToolInvocation::GetMessageHistory(1))
        );
        assert!(
            error_text(parse(&call(GET_MESSAGE_HISTORY, r#"{"count":"x"}"#))).contains("count")
        );
    }

    #[test]
    fn roll_results_carry_totals_and_kept_and_dropped_dice() {
        let text = roll_result(&[RollOutcome {
            formula: "2d20kh+4".into(),
            flavor: Some("Attack".into()),
            total: Some(19.0),
            dice: vec![DieTerm {
                faces: 20,
                results: vec![
                    DieResult {
                        result: 15,
                        active: true,
                    },
                    DieResult {
                        result: 3,
                        active: false,
                    },
                ],
            }],
            error: None,
        }]);
        assert_eq!(
            text,
            r#"{"rolls":[{"dice":[{"dropped":[3],"faces":20,"results":[15]}],"flavor":"Attack","formula":"2d20kh+4","total":19}]}"#
        );
    }

    #[test]
    fn history_keeps_the_newest_messages_in_order() {
        let chat: Vec<ChatEntry> = (0..5)
            .map(|i| ChatEntry {
                speaker: format!("P{i}"),
                content: format!("message {i}"),
                kind: ChatKind::Chat,
                timestamp: i,
            })
            .collect();
        let value: Value = serde_json::from_str(&history_result(&chat, 2, 10_000)).expect("JSON");
        assert_eq!(value["messages"][0]["speaker"], "P3");
        assert_eq!(value["messages"][1]["speaker"], "P4");
        assert_eq!(value["available"], 5);
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate_chars("héllo", 10), "héllo");
        assert_eq!(truncate_chars("héllo wörld", 4), "hél…");
    }
}
