//! The GM clicks Take AI Turn after a player's attack: the offline AI asks the table for
//! the attack roll, Foundry's dice roll it and post it to chat, the AI narrates with the
//! real total in a chat message of its own, and the button comes back to ready.

use gold_box_e2e::page::{MODULE_FLAG, TURN_TIMEOUT, mentions_number};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use serde_json::Value;

/// The d20 face Foundry's dice will show for the attack.
const D20_FACE: u32 = 11;

/// The bonus at the end of a formula like `1d20+5` (0 when there is none).
fn trailing_bonus(formula: &str) -> i64 {
    let compact: String = formula.chars().filter(|c| !c.is_whitespace()).collect();
    match compact.rfind(['+', '-']) {
        Some(at) => compact[at..].parse().unwrap_or(0),
        None => 0,
    }
}

async fn attack_roll_is_rolled_in_foundry_and_narrated(
    env: &E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;

    env.post_chat_as("Aria", "I attack the goblin with my longsword!")
        .await?;
    env.queue_dice(&[D20_FACE]).await?;
    env.record_button_states().await?;
    env.click_take_ai_turn().await?;

    let ai_messages = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;

    // The attack roll: rolled by Foundry's dice (the queued face), posted to chat.
    let rolls = env.roll_messages().await?;
    let attack = rolls
        .first()
        .ok_or_else(|| format!("no roll message in chat: {:#?}", rolls))?;
    let attack_roll = &attack["rolls"][0];
    let formula = attack_roll["formula"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let attack_total = attack_roll["total"].as_f64();
    ensure(formula.starts_with("1d20"), || {
        format!("the first roll is not an attack roll: {attack}")
    })?;
    ensure(
        attack_roll["dice"][0]["results"][0]["result"] == D20_FACE,
        || format!("the attack did not use Foundry's dice (queued {D20_FACE}): {attack}"),
    )?;
    let expected_total = i64::from(D20_FACE) + trailing_bonus(&formula);
    ensure(attack_total == Some(expected_total as f64), || {
        format!("the attack total is not {expected_total}: {attack}")
    })?;
    ensure(
        attack["flavor"]
            .as_str()
            .is_some_and(|f| f.starts_with("Attack")),
        || format!("the roll message lacks the AI's flavor: {attack}"),
    )?;
    ensure(attack["alias"] == "Gold Box", || {
        format!("the roll is not posted as Gold Box: {attack}")
    })?;

    // The narration: one AI message, flagged, after the rolls, using every total.
    ensure(ai_messages.len() == 1, || {
        format!("expected one AI message, found {ai_messages:#?}")
    })?;
    let narration = &ai_messages[0];
    let flag = &narration["flags"][MODULE_FLAG];
    ensure(
        flag["kind"] == "narration" && flag["requestId"].as_str().is_some_and(|id| !id.is_empty()),
        || format!("the narration lacks the module flag: {narration}"),
    )?;
    ensure(narration["alias"] == "Game Master", || {
        format!("the narration is not spoken by the Game Master: {narration}")
    })?;
    let all = env.messages().await?;
    let position = |id: &Value| all.iter().position(|m| &m["id"] == id);
    let narration_at = position(&narration["id"]);
    for roll in &rolls {
        ensure(position(&roll["id"]) < narration_at, || {
            format!("a roll came after the narration: {all:#?}")
        })?;
    }
    let id = narration["id"].as_str().unwrap_or_default();
    let rendered = env.rendered_message_text(id).await?;
    for roll in &rolls {
        let total = roll["rolls"][0]["total"]
            .as_f64()
            .ok_or_else(|| format!("a roll without a total: {roll}"))?;
        ensure(mentions_number(&rendered, total), || {
            format!("the narration {rendered:?} does not mention the roll total {total}")
        })?;
    }

    // The button showed the turn and is ready again; the server saw one turn, every
    // roll accepted once over the socket.
    let states = env.button_states().await?;
    ensure(
        states.first().map(String::as_str) == Some("ready")
            && states.iter().any(|s| s == "thinking")
            && states.last().map(String::as_str) == Some("ready"),
        || format!("the button went through {states:?}, not ready → thinking → ready"),
    )?;
    let metrics = env
        .wait_for_metrics("the completed turn", page::UI_TIMEOUT, |m| {
            page::count_at(m, "/websocket/ai_processing/completed_requests") == 1
        })
        .await?;
    let rolled = rolls.len() as u64;
    let roll_results = &metrics["websocket"]["roll_results"];
    ensure(
        page::count_at(roll_results, "/accepted") == rolled
            && page::count_at(roll_results, "/duplicate") == 0
            && page::count_at(roll_results, "/by_transport/ws") == rolled,
        || format!("expected {rolled} roll result(s) accepted over the socket: {roll_results}"),
    )?;
    check_next_turn_context(env, &rolls, narration).await?;
    env.browser
        .screenshot(&format!("ai-turn-{}", version.tag()))
        .await?;
    env.assert_no_page_errors().await
}

/// The chat context the next Take AI Turn would send, as the module collects it (its own
/// `collectChatEntries` over `game.messages`, with the configured message count): the
/// player's line is chat, each roll a roll with its formula and total, the narration the
/// AI's.
async fn check_next_turn_context(env: &E2e, rolls: &[Value], narration: &Value) -> TestResult {
    let entries = env
        .browser
        .eval_async(
            r#"const { collectChatEntries } = await import("/modules/gold-box/scripts/chat-context.js");
            return collectChatEntries(game.messages, game.settings.get("gold-box", "contextMessages"));"#,
        )
        .await?;
    let entries = entries.as_array().cloned().unwrap_or_default();
    ensure(entries.len() == rolls.len() + 2, || {
        format!("expected the player's line, the rolls and the narration: {entries:#?}")
    })?;
    ensure(
        entries[0]["kind"] == "chat"
            && entries[0]["speaker"] == "Aria"
            && entries[0]["content"] == "I attack the goblin with my longsword!",
        || format!("the player's line is not a chat entry: {}", entries[0]),
    )?;
    for (entry, roll) in entries[1..=rolls.len()].iter().zip(rolls) {
        let formula = roll["rolls"][0]["formula"].as_str().unwrap_or_default();
        let total = &roll["rolls"][0]["total"];
        let expected_end = format!("{formula} = {total}");
        ensure(
            entry["kind"] == "roll"
                && entry["content"]
                    .as_str()
                    .is_some_and(|c| c.ends_with(&expected_end)),
            || format!("the roll {roll} is not a roll entry ending in {expected_end:?}: {entry}"),
        )?;
    }
    let last = &entries[rolls.len() + 1];
    ensure(
        last["kind"] == "ai" && last["speaker"] == narration["alias"],
        || format!("the narration is not an AI entry: {last}"),
    )
}

async fn run(version: FoundryVersion) -> TestResult {
    let env = E2e::start(&format!("ai_turn_{}", version.tag())).await?;
    let outcome = attack_roll_is_rolled_in_foundry_and_narrated(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_take_ai_turn_rolls_the_attack_in_foundry_and_narrates_its_total() -> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_take_ai_turn_rolls_the_attack_in_foundry_and_narrates_its_total() -> TestResult {
    run(FoundryVersion::V13).await
}

#[test]
fn trailing_bonuses_are_read_from_formulas() {
    assert_eq!(trailing_bonus("1d20+5"), 5);
    assert_eq!(trailing_bonus("1d20 - 1"), -1);
    assert_eq!(trailing_bonus("2d20kh + 7"), 7);
    assert_eq!(trailing_bonus("1d20"), 0);
}
