//! The GM reviews the AI's narration before the players see it (the `narrationRelease`
//! world setting): the narration streams into a draft whispered to the game masters only,
//! with Publish, Edit, Regenerate and Discard built by the render hook from the message's
//! flags; a player's client shows nothing of it until it is published. Regenerate writes a
//! new text from the turn's kept tool results: no new dice in chat, no tool offered to the
//! AI, the GM's note passed on. Auto-publish releases a draft nobody acted on.

use gold_box_e2e::fake_ai::{self, FakeAi};
use gold_box_e2e::page::{MODULE_FLAG, TURN_TIMEOUT, UI_TIMEOUT};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use serde_json::{Value, json};
use std::time::Duration;

/// The draft of the newest narration, once it is pending review.
async fn pending_draft(env: &E2e) -> TestResult<Value> {
    env.browser
        .wait_until(
            r#"window.__shim.messages().some((m) => m.flags["gold-box"]?.review === "pending")"#,
            TURN_TIMEOUT,
        )
        .await?;
    env.messages()
        .await?
        .into_iter()
        .rev()
        .find(|m| m["flags"][MODULE_FLAG]["review"] == "pending")
        .ok_or_else(|| "no pending draft".into())
}

async fn message(env: &E2e, id: &str) -> TestResult<Value> {
    env.messages()
        .await?
        .into_iter()
        .find(|m| m["id"] == id)
        .ok_or_else(|| format!("no message {id}").into())
}

async fn as_player(env: &E2e, id: &str) -> TestResult<Value> {
    env.browser
        .eval_async(&format!(
            "return await window.__shim.renderAsPlayer({});",
            Value::from(id)
        ))
        .await
}

async fn gm_ids(env: &E2e) -> TestResult<Value> {
    env.browser
        .eval("return game.users.filter((u) => u.isGM).map((u) => u.id);")
        .await
}

fn action(id: &str, action: &str) -> String {
    format!(r#"#chat .chat-message[data-message-id="{id}"] [data-gold-box-action="{action}"]"#)
}

/// Waits for `condition` on message `id` (a JS expression over `m`, the shim's JSON).
async fn wait_for_message(env: &E2e, id: &str, condition: &str, what: &str) -> TestResult {
    let script = format!(
        "(() => {{ const m = window.__shim.messages().find((x) => x.id === {}); return Boolean(m && ({condition})); }})()",
        Value::from(id)
    );
    env.browser
        .wait_until(&script, TURN_TIMEOUT)
        .await
        .map_err(|e| format!("{what}: {e}").into())
}

/// A draft is whispered to the GMs, invisible to a player, and has the four buttons.
async fn check_draft(env: &E2e, draft: &Value) -> TestResult {
    let id = draft["id"].as_str().unwrap_or_default();
    ensure(draft["whisper"] == gm_ids(env).await?, || {
        format!("the draft is not whispered to the GMs only: {draft}")
    })?;
    let player = as_player(env, id).await?;
    ensure(player["visible"] == false, || {
        format!("a player's client would show the draft: {player}")
    })?;
    for button in ["publish", "edit", "regenerate", "discard"] {
        env.browser
            .wait_until(
                &format!(
                    "document.querySelector({})",
                    Value::from(action(id, button))
                ),
                UI_TIMEOUT,
            )
            .await
            .map_err(|e| format!("no {button} button on the draft: {e}"))?;
    }
    ensure(
        !draft["content"]
            .as_str()
            .unwrap_or_default()
            .contains("data-gold-box-action"),
        || format!("the buttons are stored in the message's HTML: {draft}"),
    )?;
    // Built from the flags at every render: a fresh render of the chat has them again.
    env.browser
        .eval_async("await window.__shim.rerenderChat(); return true;")
        .await?;
    env.browser
        .wait_until(
            &format!(
                "document.querySelector({})",
                Value::from(action(id, "publish"))
            ),
            UI_TIMEOUT,
        )
        .await
        .map_err(|e| format!("the buttons did not come back after a re-render: {e}"))?;
    Ok(())
}

async fn set_setting(env: &E2e, key: &str, value: Value) -> TestResult {
    env.browser
        .eval_async(&format!(
            "await window.__shim.setSetting({}, {value}); return true;",
            Value::from(key)
        ))
        .await?;
    Ok(())
}

async fn take_turn(env: &E2e, line: &str) -> TestResult<Value> {
    env.post_chat_as("Aria", line).await?;
    env.queue_dice(&[15, 6]).await?;
    env.click_take_ai_turn().await?;
    let draft = pending_draft(env).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    Ok(draft)
}

const FIRST: &str = "The goblin ducks your blade: fifteen is not enough against its battered \
    shield, and it cackles as it backs toward the cave mouth.";
const SECOND: &str = "Fifteen rings off the goblin's shield. It yelps, drops to its knees and \
    begs for its life.";

async fn review_publish_edit_regenerate_discard(
    env: &E2e,
    fake: &FakeAi,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    set_setting(env, "narrationRelease", json!("review")).await?;

    // Turn 1: the draft; Regenerate with a note; then Publish.
    let draft = take_turn(env, "I attack the goblin!").await?;
    check_draft(env, &draft).await?;
    env.browser
        .screenshot_element(
            &format!(
                r#"#chat .chat-message[data-message-id="{}"]"#,
                draft["id"].as_str().unwrap_or_default()
            ),
            &format!("narration-review-draft-{}", version.tag()),
        )
        .await?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    ensure(
        draft["flags"][MODULE_FLAG]["text"].as_str() == Some(FIRST),
        || format!("the draft does not hold the AI's narration: {draft}"),
    )?;
    let rolls_before = env.roll_messages().await?.len();
    ensure(rolls_before == 1, || {
        format!("expected the one attack roll in chat, found {rolls_before}")
    })?;
    let requests_before = fake.received().len();

    let note = "Make the goblin beg.";
    env.browser
        .eval(&format!(
            "document.querySelector({}).value = {}; return true;",
            Value::from(format!(
                r#"#chat .chat-message[data-message-id="{id}"] .gold-box-review-note"#
            )),
            Value::from(note)
        ))
        .await?;
    env.browser.click(&action(&id, "regenerate")).await?;
    wait_for_message(
        env,
        &id,
        &format!(
            r#"m.flags["gold-box"].review === "pending" && m.flags["gold-box"].text === {}"#,
            Value::from(SECOND)
        ),
        "the regenerated text did not replace the draft",
    )
    .await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let regenerated = message(env, &id).await?;
    ensure(regenerated["whisper"] == gm_ids(env).await?, || {
        format!("the regenerated draft is not whispered to the GMs: {regenerated}")
    })?;
    let rolls_after = env.roll_messages().await?.len();
    ensure(rolls_after == rolls_before, || {
        format!(
            "a regeneration rolled dice: {rolls_before} roll message(s) before, {rolls_after} after"
        )
    })?;
    let received = fake.received();
    ensure(received.len() == requests_before + 1, || {
        format!("expected one more request for the regeneration: {received:#?}")
    })?;
    let request = &received[requests_before];
    ensure(request.get("tools").is_none(), || {
        format!("the regeneration offered the AI tools (it could roll): {request}")
    })?;
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    ensure(
        messages.iter().any(|m| {
            m["role"] == "tool" && m["content"].as_str().is_some_and(|c| c.contains("15"))
        }) && messages.last().is_some_and(|m| {
            m["role"] == "user" && m["content"].as_str().is_some_and(|c| c.contains(note))
        }),
        || format!("the regeneration lacks the kept roll result or the GM's note: {messages:#?}"),
    )?;
    let ai_messages = env.ai_messages().await?;
    ensure(ai_messages.len() == 1, || {
        format!("the regeneration added a message instead of replacing the draft: {ai_messages:#?}")
    })?;

    env.browser.click(&action(&id, "publish")).await?;
    wait_for_message(
        env,
        &id,
        r#"m.flags["gold-box"].review === "published""#,
        "Publish",
    )
    .await?;
    let published = message(env, &id).await?;
    ensure(
        published["whisper"] == json!([]) && published["alias"] == "Game Master",
        || format!("the published narration is not public as the AI's speaker: {published}"),
    )?;
    let player = as_player(env, &id).await?;
    ensure(
        player["visible"] == true
            && player["buttons"] == 0
            && player["text"]
                .as_str()
                .is_some_and(|t| t.contains("begs for its life")),
        || format!("a player does not see the published narration (alone): {player}"),
    )?;

    // Turn 2: Edit and publish what the GM wrote.
    let draft = take_turn(env, "I shove the goblin into the fire!").await?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    check_draft(env, &draft).await?;
    env.browser.click(&action(&id, "edit")).await?;
    let edited = "The goblin tumbles into the embers, shrieking. (GM's words.)";
    let textarea =
        format!(r#"#chat .chat-message[data-message-id="{id}"] .gold-box-review-editor textarea"#);
    env.browser
        .wait_until(
            &format!("document.querySelector({})", Value::from(textarea.as_str())),
            UI_TIMEOUT,
        )
        .await?;
    env.browser
        .eval(&format!(
            "const area = document.querySelector({}); if (!area.value) throw new Error('the editor is empty'); area.value = {}; return true;",
            Value::from(textarea.as_str()),
            Value::from(edited)
        ))
        .await?;
    env.browser.click(&action(&id, "save")).await?;
    wait_for_message(
        env,
        &id,
        r#"m.flags["gold-box"].review === "published""#,
        "Edit",
    )
    .await?;
    let player = as_player(env, &id).await?;
    ensure(
        player["visible"] == true && player["text"].as_str().map(str::trim) == Some(edited),
        || format!("a player does not see the GM's edited text: {player}"),
    )?;

    // Turn 3: Discard: gone from chat, and the server told.
    let draft = take_turn(env, "I search the goblin.").await?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    env.browser.click(&action(&id, "discard")).await?;
    env.browser
        .wait_until(
            &format!(
                "!window.__shim.messages().some((m) => m.id === {})",
                Value::from(id.as_str())
            ),
            UI_TIMEOUT,
        )
        .await
        .map_err(|e| format!("the discarded draft is still in chat: {e}"))?;
    env.wait_for_metrics("the discard reaching the server", UI_TIMEOUT, |m| {
        page::count_at(
            m,
            "/websocket/connections/messages_received_by_type/narration_discard",
        ) == 1
    })
    .await?;
    env.browser
        .screenshot(&format!("narration-review-end-{}", version.tag()))
        .await?;
    env.assert_no_page_errors().await
}

async fn run_review(version: FoundryVersion) -> TestResult {
    let attack = fake_ai::tool_call(
        "roll_dice",
        &json!({"rolls": [{"formula": "1d20+5", "flavor": "Attack"}]}),
    );
    let fake = FakeAi::start(vec![
        attack.clone(),
        fake_ai::answer(FIRST),
        fake_ai::answer(SECOND),
        attack.clone(),
        fake_ai::answer("The goblin totters at the edge of the fire pit."),
        attack,
        fake_ai::answer("A rusty key and three copper pieces."),
    ])
    .await?;
    fake.set_chunk_pause_ms(30);
    let env = E2e::start_with(
        &format!("narration_review_{}", version.tag()),
        &fake.server_args(),
    )
    .await?;
    let outcome = review_publish_edit_regenerate_discard(&env, &fake, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_review_a_draft_is_gm_only_until_published_and_edit_regenerate_discard_work()
-> TestResult {
    run_review(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_review_a_draft_is_gm_only_until_published_and_edit_regenerate_discard_work()
-> TestResult {
    run_review(FoundryVersion::V13).await
}

async fn auto_publish(env: &E2e, version: FoundryVersion) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    set_setting(env, "narrationRelease", json!("review_auto")).await?;
    set_setting(env, "narrationAutoPublishSeconds", json!(2)).await?;
    let draft = take_turn(env, "I attack the goblin!").await?;
    let id = draft["id"].as_str().unwrap_or_default().to_owned();
    ensure(
        draft["flags"][MODULE_FLAG]["autoPublishAt"].is_number(),
        || format!("the draft has no auto-publish time: {draft}"),
    )?;
    let player = as_player(env, &id).await?;
    ensure(player["visible"] == false, || {
        format!("a player sees the draft before it is published: {player}")
    })?;
    // Nobody acts: it is published after the delay (2 s; the wait is generous).
    env.browser
        .wait_until(
            &format!(
                r#"window.__shim.messages().some((m) => m.id === {} && m.flags["gold-box"].review === "published")"#,
                Value::from(id.as_str())
            ),
            Duration::from_secs(30),
        )
        .await
        .map_err(|e| format!("the draft was not published automatically: {e}"))?;
    let player = as_player(env, &id).await?;
    ensure(player["visible"] == true && player["buttons"] == 0, || {
        format!("a player does not see the auto-published narration: {player}")
    })?;
    env.assert_no_page_errors().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_auto_publish_releases_a_draft_nobody_acted_on() -> TestResult {
    let env = E2e::start_with(
        "narration_auto_publish_v14",
        &[
            "--ai-offline-stream-interval-ms".to_owned(),
            "20".to_owned(),
        ],
    )
    .await?;
    let outcome = auto_publish(&env, FoundryVersion::V14).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_auto_publish_releases_a_draft_nobody_acted_on() -> TestResult {
    let env = E2e::start_with(
        "narration_auto_publish_v13",
        &[
            "--ai-offline-stream-interval-ms".to_owned(),
            "20".to_owned(),
        ],
    )
    .await?;
    let outcome = auto_publish(&env, FoundryVersion::V13).await;
    env.finish(outcome).await
}
