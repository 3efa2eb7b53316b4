//! Streamed narration in the browser: the GM takes an AI turn and the narration appears
//! as it is written, in ONE chat message updated in place (a few writes a second), which
//! ends holding the whole final text; with the offline provider, and with the
//! OpenAI-compatible provider against a local endpoint that streams the real wire format,
//! including an answer whose stream breaks mid-way and is retried.
//!
//! The page records every create and update of chat messages (Foundry's
//! `createChatMessage` / `updateChatMessage` hooks), so the test sees each write of the
//! preview, not only the end state.

use gold_box_e2e::fake_ai::{self, FakeAi};
use gold_box_e2e::page::{MODULE_FLAG, TURN_TIMEOUT};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use serde_json::{Value, json};

/// `DRAFT_UPDATE_MS` of module-js/scripts/constants.js.
const DRAFT_UPDATE_MS: f64 = 300.0;

/// Records every write of a chat message (id, text, flags, time) in `window.__writes`.
const RECORD_WRITES: &str = r#"
window.__writes = [];
const text = (m) => { const d = document.createElement("div"); d.innerHTML = m.content; return d.textContent; };
const record = (kind) => (m) => window.__writes.push({
  kind, id: m.id, text: text(m), flags: JSON.parse(JSON.stringify(m.flags ?? {})), at: performance.now(),
  whisper: [...(m.whisper ?? [])] });
Hooks.on("createChatMessage", record("create"));
Hooks.on("updateChatMessage", record("update"));
Hooks.on("deleteChatMessage", record("delete"));
return true;"#;

async fn writes(env: &E2e) -> TestResult<Vec<Value>> {
    Ok(env
        .browser
        .eval("return window.__writes;")
        .await?
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Takes a turn and checks the narration streamed into one message; returns the writes of
/// that message.
///
/// `broken`: words of an answer whose stream broke and was retried; the preview may show
/// them and then start again (the one place it may not grow), the final text never has them.
async fn narration_streams_into_one_message(
    env: &E2e,
    version: FoundryVersion,
    screenshot: &str,
    broken: Option<&str>,
) -> TestResult<Vec<Value>> {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.browser.eval(RECORD_WRITES).await?;
    env.post_chat_as("Aria", "I attack the goblin with my longsword!")
        .await?;
    env.queue_dice(&[14]).await?;
    env.click_take_ai_turn().await?;

    // A screenshot while the narration is still being written.
    env.browser
        .wait_until(
            r#"window.__writes.some((w) => w.flags["gold-box"]?.streaming === true && w.kind === "update")"#,
            TURN_TIMEOUT,
        )
        .await?;
    env.browser.screenshot(screenshot).await?;

    let ai_messages = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let ai_messages_after = env.ai_messages().await?;
    ensure(ai_messages_after.len() == 1, || {
        format!("expected one narration message, found {ai_messages_after:#?}")
    })?;
    let narration = &ai_messages[0];
    let id = narration["id"].as_str().unwrap_or_default().to_owned();
    ensure(
        narration["flags"][MODULE_FLAG]["kind"] == "narration",
        || format!("the narration is not flagged as one: {narration}"),
    )?;

    // Every message in chat: the player's line, the rolls, the one narration; no preview
    // left behind, none per delta.
    let all = env.messages().await?;
    let rolls = env.roll_messages().await?;
    ensure(all.len() == rolls.len() + 2, || {
        format!("chat holds more than the line, the rolls and one narration: {all:#?}")
    })?;

    let writes: Vec<Value> = writes(env)
        .await?
        .into_iter()
        .filter(|w| w["id"] == id.as_str())
        .collect();
    ensure(
        writes
            .first()
            .is_some_and(|w| w["kind"] == "create" && w["flags"][MODULE_FLAG]["streaming"] == true),
        || format!("the narration's message was not created as a streaming preview: {writes:#?}"),
    )?;
    let last = writes.last().cloned().unwrap_or(Value::Null);
    let rendered = env.rendered_message_text(&id).await?;
    ensure(
        last["flags"][MODULE_FLAG]["streaming"] == false
            && last["text"].as_str().map(str::trim) == Some(rendered.trim()),
        || format!("the last write is not the final text {rendered:?}: {last}"),
    )?;
    // The preview grew: each write's text starts with the one before (except where a
    // broken answer's words are replaced by its retry), and at least two writes showed part
    // of the final narration before the end.
    let texts: Vec<&str> = writes
        .iter()
        .filter(|w| w["kind"] != "delete")
        .map(|w| w["text"].as_str().unwrap_or_default().trim_end())
        .collect();
    for pair in texts.windows(2) {
        // A restart clears the preview (an empty write) or replaces the broken words.
        let restarted = broken.is_some_and(|words| {
            pair[1].is_empty() || pair[0].is_empty() || pair[0].contains(words)
        });
        ensure(pair[1].starts_with(pair[0]) || restarted, || {
            format!("the preview did not grow in place: {texts:#?}")
        })?;
    }
    if let Some(words) = broken {
        ensure(!rendered.contains(words), || {
            format!("the broken answer's words are in the final narration: {rendered:?}")
        })?;
    }
    let partial = texts
        .iter()
        .filter(|t| {
            !t.is_empty() && rendered.trim().starts_with(*t) && t.len() < rendered.trim().len()
        })
        .count();
    ensure(partial >= 2, || {
        format!("fewer than two partial previews before the final text: {texts:#?}")
    })?;
    // Throttled: a write of the preview at most every DRAFT_UPDATE_MS, so over the span
    // of the preview's writes (as the hooks saw them) there are at most span / interval + 2.
    let streaming_times: Vec<f64> = writes
        .iter()
        .filter(|w| w["flags"][MODULE_FLAG]["streaming"] == true)
        .filter_map(|w| w["at"].as_f64())
        .collect();
    if let (Some(first), Some(last)) = (streaming_times.first(), streaming_times.last()) {
        let bound = ((last - first) / DRAFT_UPDATE_MS).floor() as usize + 2;
        ensure(streaming_times.len() <= bound, || {
            format!(
                "{} preview writes in {:.0} ms, more than one per {DRAFT_UPDATE_MS} ms: {writes:#?}",
                streaming_times.len(),
                last - first
            )
        })?;
    }
    env.browser
        .screenshot(&format!("{screenshot}-final"))
        .await?;
    env.assert_no_page_errors().await?;
    Ok(writes)
}

async fn offline(version: FoundryVersion) -> TestResult {
    let args: Vec<String> = ["--ai-offline-stream-interval-ms", "120", "--ai-seed", "11"]
        .iter()
        .map(|a| (*a).to_owned())
        .collect();
    let env = E2e::start_with(&format!("narration_stream_{}", version.tag()), &args).await?;
    let outcome = narration_streams_into_one_message(
        &env,
        version,
        &format!("narration-stream-offline-{}", version.tag()),
        None,
    )
    .await
    .map(|_| ());
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_offline_narration_streams_into_one_chat_message_updated_in_place() -> TestResult {
    offline(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_offline_narration_streams_into_one_chat_message_updated_in_place() -> TestResult {
    offline(FoundryVersion::V13).await
}

const NARRATION: &str = "Your longsword bites deep: fourteen and more against the goblin's \
    shield, and it staggers back into the brazier, scattering embers across the damp stone \
    floor while its friends shriek from the dark.";

async fn openai_with_a_broken_stream(version: FoundryVersion) -> TestResult {
    let fake = FakeAi::start(vec![
        fake_ai::tool_call(
            "roll_dice",
            &json!({"rolls": [{"formula": "1d20+5", "flavor": "Attack on the goblin"}]}),
        ),
        fake_ai::cut_stream("Your longsword slips and the goblin"),
        fake_ai::answer(NARRATION),
    ])
    .await?;
    fake.set_chunk_pause_ms(80);
    let mut args = fake.server_args();
    let retries = args
        .iter()
        .position(|a| a == "--ai-max-retries")
        .ok_or("the fake's options name --ai-max-retries")?;
    args[retries + 1] = "2".into();
    args.extend(["--ai-retry-backoff-ms".to_owned(), "10".to_owned()]);
    let env = E2e::start_with(&format!("narration_stream_openai_{}", version.tag()), &args).await?;
    let outcome = async {
        let writes = narration_streams_into_one_message(
            &env,
            version,
            &format!("narration-stream-openai-{}", version.tag()),
            Some("slips"),
        )
        .await?;
        let last = writes.last().cloned().unwrap_or(Value::Null);
        ensure(
            last["text"].as_str().map(str::trim) == Some(NARRATION),
            || format!("the final text is not the model's narration: {last}"),
        )?;
        let received = fake.received();
        ensure(received.len() == 3, || {
            format!("expected the roll call, the broken answer and its retry: {received:#?}")
        })?;
        ensure(
            received
                .iter()
                .all(|r| r["stream"] == true && r["stream_options"]["include_usage"] == true),
            || "a request did not ask for a stream with usage".to_owned(),
        )?;
        let rolls = env.roll_messages().await?;
        ensure(rolls.len() == 1, || {
            format!("the tool call's fragments did not make one roll: {rolls:#?}")
        })?;
        ensure(rolls[0]["flavor"] == "Attack on the goblin", || {
            format!(
                "the roll's flavor was not assembled from the fragments: {}",
                rolls[0]
            )
        })
    }
    .await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_openai_narration_streams_with_tool_fragments_and_a_broken_stream_retried() -> TestResult
{
    openai_with_a_broken_stream(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_openai_narration_streams_with_tool_fragments_and_a_broken_stream_retried() -> TestResult
{
    openai_with_a_broken_stream(FoundryVersion::V13).await
}
