//! A measurement, not a check (ignored by default; it prints figures for
//! docs/BENCHMARKS.md): the time from the `chat_request` leaving the page to the first words
//! of the narration being visible in the chat, and to the final text, in headless Chromium
//! against the real server, with the offline provider and with the OpenAI-compatible provider
//! against a local streaming endpoint.
//!
//! `cargo test --release -p gold-box-e2e --test first_words -- --ignored --nocapture`
//!
//! The page stamps (`performance.now()`) the socket send of the `chat_request` (by wrapping
//! `WebSocket.prototype.send`), the creation of the narration's chat message (its first
//! words) and the write that makes it final. Each turn asks for one roll first, as a real
//! attack does, so "first words" includes the roll's round trip.

use gold_box_e2e::fake_ai::{self, FakeAi};
use gold_box_e2e::page::TURN_TIMEOUT;
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, page};
use serde_json::json;

const TURNS: usize = 10;

const STAMP: &str = r#"
window.__stamps = [];
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (typeof data === "string" && data.includes('"chat_request"')) window.__stamps.push({ kind: "request", at: performance.now() });
  return send.call(this, data);
};
Hooks.on("createChatMessage", (m) => { if (m.flags?.["gold-box"]?.streaming === true) window.__stamps.push({ kind: "first", at: performance.now() }); });
Hooks.on("updateChatMessage", (m) => { if (m.flags?.["gold-box"]?.streaming === false) window.__stamps.push({ kind: "final", at: performance.now() }); });
return true;"#;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn measure(env: &E2e, label: &str) -> TestResult {
    env.open_foundry(FoundryVersion::V13, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.browser.eval(STAMP).await?;
    let mut first = Vec::new();
    let mut full = Vec::new();
    for turn in 0..TURNS {
        env.post_chat_as("Aria", "I attack the goblin with my longsword!")
            .await?;
        env.queue_dice(&[12]).await?;
        env.click_take_ai_turn().await?;
        env.wait_for_ai_messages(turn + 1, TURN_TIMEOUT).await?;
        env.browser
            .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
            .await?;
        let stamps = env
            .browser
            .eval("const s = window.__stamps; window.__stamps = []; return s;")
            .await?;
        let at = |kind: &str| {
            stamps
                .as_array()
                .and_then(|s| s.iter().find(|x| x["kind"] == kind))
                .and_then(|x| x["at"].as_f64())
        };
        match (at("request"), at("first"), at("final")) {
            (Some(request), Some(words), Some(done)) => {
                first.push(words - request);
                full.push(done - request);
            }
            _ => return Err(format!("turn {turn}: missing stamps {stamps}").into()),
        }
    }
    for (what, mut values) in [("first words", first), ("final text", full)] {
        values.sort_by(f64::total_cmp);
        println!(
            "{label}: chat_request → {what}: n={} p50={:.1} ms min={:.1} ms max={:.1} ms",
            values.len(),
            percentile(&values, 50.0),
            values[0],
            values[values.len() - 1]
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints figures, asserts nothing about speed"]
async fn first_visible_words_offline_provider() -> TestResult {
    let env = E2e::start("first_words_offline").await?;
    let outcome = measure(
        &env,
        "offline provider (default --ai-offline-stream-interval-ms 40)",
    )
    .await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints figures, asserts nothing about speed"]
async fn first_visible_words_local_streaming_endpoint() -> TestResult {
    let mut script = Vec::new();
    for _ in 0..TURNS {
        script.push(fake_ai::tool_call(
            "roll_dice",
            &json!({"rolls": [{"formula": "1d20+5", "flavor": "Attack"}]}),
        ));
        script.push(fake_ai::answer(
            "Your longsword rings against the goblin's shield; it reels back into the \
             brazier, sparks flying, and snarls at you from the smoke as its friends draw \
             their knives and edge along the wall toward you.",
        ));
    }
    let fake = FakeAi::start(script).await?;
    // A model writing two words every 30 ms (about 65 words a second).
    fake.set_chunk_pause_ms(30);
    let env = E2e::start_with("first_words_openai", &fake.server_args()).await?;
    let outcome = measure(&env, "local streaming endpoint (2 words / 30 ms)").await;
    env.finish(outcome).await
}
