//! The GM in control of a turn, in the browser: while a turn runs the Take AI Turn button
//! is Stop (localized, accessible), and Stop ends the turn on the server (`cancelled`,
//! nothing posted); a turn whose provider goes silent is ended by the server's stall
//! watchdog and the button offers Retry, which takes the turn again; the AI's message
//! then carries what the turn cost (for the GM) and the button's title the session total.
//! A page reloaded in the middle of a turn shows the turn still running (the server tells
//! it on connect), with its Stop; with the server out of reach, a running turn ends at the
//! turn's bound the server announced, with a notice, instead of spinning for ever.
//! A Stop while the narration streams leaves none of it in chat: the preview goes too.
//! The provider is a local OpenAI-compatible endpoint that holds its answer open (or
//! streams it slowly).

use gold_box_e2e::fake_ai::{FakeAi, answer, hold};
use gold_box_e2e::page::{self, TURN_TIMEOUT, UI_TIMEOUT};
use gold_box_e2e::proxy::TcpProxy;
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::server::TestServer;
use gold_box_e2e::site::ShimSite;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure};
use std::time::Duration;

/// The button's accessible name and pressed state.
async fn aria(env: &E2e) -> TestResult<(String, Option<String>)> {
    let value = env
        .browser
        .eval(
            r#"const b = document.getElementById("gold-box-ai-turn-btn");
            return [b.getAttribute("aria-label"), b.getAttribute("aria-pressed")];"#,
        )
        .await?;
    Ok((
        value[0].as_str().unwrap_or_default().to_owned(),
        value[1].as_str().map(str::to_owned),
    ))
}

async fn stop_ends_the_running_turn(env: &E2e, version: FoundryVersion) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.post_chat_as("Aria", "What lies beyond the door?")
        .await?;
    env.record_button_states().await?;
    env.click_take_ai_turn().await?;
    env.browser
        .wait_until(&page::button_state_is("thinking"), UI_TIMEOUT)
        .await?;
    env.wait_for_metrics("the running turn", UI_TIMEOUT, |m| {
        !m["system"]["current_ai_request"].is_null()
    })
    .await?;
    let running = env.button().await?;
    ensure(
        running["label"] == "Stop AI turn" && running["disabled"] == false,
        || format!("a running turn's button is not an enabled Stop: {running}"),
    )?;
    let (label, pressed) = aria(env).await?;
    ensure(
        label == "Stop AI turn" && pressed.as_deref() == Some("false"),
        || format!("Stop is not accessible: aria-label {label:?}, aria-pressed {pressed:?}"),
    )?;
    env.browser
        .screenshot(&format!("stop-button-running-{}", version.tag()))
        .await?;

    env.browser.click("#gold-box-ai-turn-btn").await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let metrics = env
        .wait_for_metrics("the stopped turn", UI_TIMEOUT, |m| {
            page::count_at(m, "/websocket/ai_processing/cancelled_requests") == 1
        })
        .await?;
    ensure(metrics["system"]["current_ai_request"].is_null(), || {
        format!("the AI slot is still taken: {metrics}")
    })?;
    ensure(env.ai_messages().await?.is_empty(), || {
        "a stopped turn posted a message".to_owned()
    })?;
    let after = env.button().await?;
    ensure(after["label"] == "Take AI Turn", || {
        format!("after a stop the button does not offer a new turn: {after}")
    })?;
    let states = env.button_states().await?;
    ensure(states.iter().any(|s| s == "thinking"), || {
        format!("the button never showed the running turn: {states:?}")
    })?;
    env.browser
        .screenshot(&format!("stop-button-stopped-{}", version.tag()))
        .await?;
    env.assert_no_page_errors().await
}

/// Any message of the module's in chat, streaming previews included.
const ANY_MODULE_MESSAGE: &str =
    r#"(game.messages.contents ?? []).some((m) => m.flags?.["gold-box"] !== undefined)"#;
/// A narration preview still streaming in chat.
const STREAMING_PREVIEW: &str =
    r#"(game.messages.contents ?? []).some((m) => m.flags?.["gold-box"]?.streaming === true)"#;

async fn a_stop_mid_stream_leaves_no_half_narration(
    env: &E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.post_chat_as("Aria", "I listen at the door.").await?;
    env.click_take_ai_turn().await?;
    env.browser
        .wait_until(STREAMING_PREVIEW, TURN_TIMEOUT)
        .await?;
    env.browser
        .screenshot(&format!("stop-mid-stream-before-{}", version.tag()))
        .await?;
    env.browser.click("#gold-box-ai-turn-btn").await?;
    env.wait_for_metrics("the stopped turn", UI_TIMEOUT, |m| {
        page::count_at(m, "/websocket/ai_processing/cancelled_requests") == 1
    })
    .await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    env.browser
        .wait_until(&format!("!({ANY_MODULE_MESSAGE})"), UI_TIMEOUT)
        .await
        .map_err(|e| format!("the stopped turn's preview stays in chat: {e}"))?;
    env.browser
        .screenshot(&format!("stop-mid-stream-after-{}", version.tag()))
        .await?;
    env.assert_no_page_errors().await
}

async fn a_stalled_turn_offers_retry(env: &E2e, version: FoundryVersion) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.post_chat_as("Aria", "We wait for the storm to pass.")
        .await?;
    env.click_take_ai_turn().await?;
    env.browser
        .wait_until(
            r#"document.getElementById("gold-box-ai-turn-btn")?.dataset.retry === "true""#,
            TURN_TIMEOUT,
        )
        .await
        .map_err(|e| format!("the stalled turn did not end with Retry offered: {e}"))?;
    let retry = env.button().await?;
    ensure(
        retry["state"] == "ready"
            && retry["label"] == "Retry AI Turn"
            && retry["disabled"] == false,
        || format!("the button does not offer Retry: {retry}"),
    )?;
    let metrics = env.server.metrics().await?;
    ensure(
        page::count_at(&metrics, "/websocket/ai_processing/failed_requests") == 1,
        || format!("the stall did not end the turn failed: {metrics}"),
    )?;
    env.browser
        .screenshot(&format!("retry-after-stall-{}", version.tag()))
        .await?;

    // Retry takes the turn again; this time the provider answers.
    env.browser.click("#gold-box-ai-turn-btn").await?;
    let messages = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let id = messages[0]["id"].as_str().unwrap_or_default().to_owned();
    let footer_query = format!(
        r#"document.querySelector('.chat-message[data-message-id="{id}"] .gold-box-usage')?.textContent ?? null"#
    );
    env.browser
        .wait_until(&footer_query, UI_TIMEOUT)
        .await
        .map_err(|e| format!("the AI's message has no usage footer: {e}"))?;
    let footer = env.browser.eval(&format!("return {footer_query};")).await?;
    ensure(
        footer
            .as_str()
            .is_some_and(|f| f.contains("120 prompt + 10 completion tokens")),
        || format!("the footer does not show the turn's tokens: {footer}"),
    )?;
    let done = env.button().await?;
    ensure(
        done["label"] == "Take AI Turn"
            && done["title"]
                .as_str()
                .is_some_and(|t| t.contains("130 tokens")),
        || {
            format!(
                "after the retry the button lacks its session total or still offers Retry: {done}"
            )
        },
    )?;
    env.browser
        .screenshot(&format!("usage-footer-{}", version.tag()))
        .await?;
    env.assert_no_page_errors().await
}

async fn a_reload_mid_turn_shows_the_running_turn(
    env: &E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.post_chat_as("Aria", "Tell us of the old king.").await?;
    env.click_take_ai_turn().await?;
    env.wait_for_metrics("the running turn", UI_TIMEOUT, |m| {
        !m["system"]["current_ai_request"].is_null()
    })
    .await?;

    // The GM reloads the page while the provider still thinks.
    env.open_foundry(version, TEST_TOKEN).await?;
    env.browser
        .wait_until(&page::button_state_is("thinking"), page::CONNECT_TIMEOUT)
        .await
        .map_err(|e| format!("after the reload the running turn is not shown: {e}"))?;
    let shown = env.button().await?;
    ensure(shown["label"] == "Stop AI turn", || {
        format!("the reloaded page does not offer Stop: {shown}")
    })?;
    env.browser
        .screenshot(&format!("reload-mid-turn-{}", version.tag()))
        .await?;
    env.browser.click("#gold-box-ai-turn-btn").await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    env.wait_for_metrics("the stopped turn", UI_TIMEOUT, |m| {
        page::count_at(m, "/websocket/ai_processing/cancelled_requests") == 1
    })
    .await?;
    env.assert_no_page_errors().await
}

/// How many `ack` frames the page has sent through the proxy.
fn acks_sent(proxy: &TcpProxy) -> TestResult<usize> {
    Ok(proxy
        .page_frames()?
        .iter()
        .filter(|frame| {
            serde_json::from_str::<serde_json::Value>(frame).is_ok_and(|f| f["type"] == "ack")
        })
        .count())
}

async fn an_unreachable_server_ends_the_turn_at_its_bound(
    env: &E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.post_chat_as("Aria", "We listen at the door.").await?;
    let proxy = env.proxy.as_ref().ok_or("no proxy")?;
    let acks_before = acks_sent(proxy)?;
    env.click_take_ai_turn().await?;
    env.browser
        .wait_until(&page::button_state_is("thinking"), UI_TIMEOUT)
        .await?;
    // The cut comes once the page has processed `ai_turn_started` (the turn's first
    // session frame, acknowledged at once): a cut before it leaves the page waiting for
    // the server's answer to its `chat_request`, which ends under the other bound (no
    // answer within 30 s), not the turn's bound this test is about.
    let deadline = tokio::time::Instant::now() + UI_TIMEOUT;
    while acks_sent(proxy)? == acks_before {
        if tokio::time::Instant::now() > deadline {
            return Err("the page never acknowledged the start of its turn".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.cut();
    // The server may run a turn 3 s (--ai-max-turn-ms); the module allows 15 s more for
    // the end to reach it, then gives up with a notice.
    env.browser
        .wait_until(
            r#"window.__shim.button().state !== "thinking""#,
            Duration::from_secs(40),
        )
        .await
        .map_err(|e| format!("the turn was shown running past its bound: {e}"))?;
    let notices = env
        .browser
        .eval("return window.__shim.notifications;")
        .await?;
    ensure(
        notices.as_array().is_some_and(|all| {
            all.iter().any(|n| {
                n["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("no word from the server"))
            })
        }),
        || format!("no notice says why the turn ended: {notices}"),
    )?;
    let shown = env.button().await?;
    ensure(
        shown["state"] != "thinking" && shown["state"] != "stopping",
        || format!("the button still shows a turn: {shown}"),
    )?;
    env.browser
        .screenshot(&format!("turn-bound-passed-{}", version.tag()))
        .await?;
    proxy.restore();
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    env.assert_no_page_errors().await
}

async fn run_reload(version: FoundryVersion) -> TestResult {
    let ai = FakeAi::start(vec![hold()]).await?;
    let env = E2e::start_with(
        &format!("reload_mid_turn_{}", version.tag()),
        &ai.server_args(),
    )
    .await?;
    let outcome = a_reload_mid_turn_shows_the_running_turn(&env, version).await;
    env.finish(outcome).await
}

async fn run_bound(version: FoundryVersion) -> TestResult {
    let ai = FakeAi::start(vec![hold()]).await?;
    let site = ShimSite::start().await?;
    let proxy = TcpProxy::start().await?;
    let public_url = proxy.url();
    let mut args: Vec<String> = ai.server_args();
    args.extend(
        [
            "--public-url",
            public_url.as_str(),
            "--ai-max-turn-ms",
            "3000",
        ]
        .iter()
        .map(|s| (*s).to_owned()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::start_with(&site.origin(), &args).await?;
    proxy.set_target(server.addr());
    let env = E2e::assemble(
        &format!("turn_bound_{}", version.tag()),
        site,
        server,
        Some(proxy),
    )
    .await?;
    let outcome = an_unreachable_server_ends_the_turn_at_its_bound(&env, version).await;
    env.finish(outcome).await
}

async fn run_stop(version: FoundryVersion) -> TestResult {
    let ai = FakeAi::start(vec![hold()]).await?;
    let env = E2e::start_with(&format!("stop_button_{}", version.tag()), &ai.server_args()).await?;
    let outcome = stop_ends_the_running_turn(&env, version).await;
    env.finish(outcome).await
}

async fn run_stop_mid_stream(version: FoundryVersion) -> TestResult {
    // A narration of many words, streamed a chunk every 400 ms: the stop comes in the middle.
    let words = "The door creaks and beyond it something old stirs in the dark, \
                 counting the steps of every living thing that dares to come near.";
    let ai = FakeAi::start(vec![answer(words)]).await?;
    ai.set_chunk_pause_ms(400);
    let env = E2e::start_with(
        &format!("stop_mid_stream_{}", version.tag()),
        &ai.server_args(),
    )
    .await?;
    let outcome = a_stop_mid_stream_leaves_no_half_narration(&env, version).await;
    env.finish(outcome).await
}

async fn run_retry(version: FoundryVersion) -> TestResult {
    // The first request is held (the stall watchdog ends it); the retry is answered.
    let ai = FakeAi::start(vec![hold(), answer("The storm passes; the road is clear.")]).await?;
    let mut args = ai.server_args();
    args.extend(["--ai-stall-timeout-ms".to_owned(), "1500".to_owned()]);
    let env = E2e::start_with(&format!("retry_after_stall_{}", version.tag()), &args).await?;
    let outcome = a_stalled_turn_offers_retry(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_stop_ends_the_running_turn_and_the_button_returns_to_ready() -> TestResult {
    run_stop(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_stop_ends_the_running_turn_and_the_button_returns_to_ready() -> TestResult {
    run_stop(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_stop_while_the_narration_streams_leaves_none_of_it_in_chat() -> TestResult {
    run_stop_mid_stream(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_stop_while_the_narration_streams_leaves_none_of_it_in_chat() -> TestResult {
    run_stop_mid_stream(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_stalled_turn_offers_retry_and_the_retry_shows_its_cost() -> TestResult {
    run_retry(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_stalled_turn_offers_retry_and_the_retry_shows_its_cost() -> TestResult {
    run_retry(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_reload_mid_turn_shows_the_running_turn_with_its_stop() -> TestResult {
    run_reload(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_reload_mid_turn_shows_the_running_turn_with_its_stop() -> TestResult {
    run_reload(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_with_the_server_out_of_reach_a_turn_ends_at_its_bound() -> TestResult {
    run_bound(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_with_the_server_out_of_reach_a_turn_ends_at_its_bound() -> TestResult {
    run_bound(FoundryVersion::V13).await
}
