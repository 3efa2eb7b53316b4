//! The WebSocket is cut while Foundry's dice are rolling: the result still reaches the
//! server exactly once, over `POST /api/roll-result`, and the AI's turn completes.
//!
//! The page reaches the server through a TCP proxy (see `gold_box_e2e::proxy`). The roll
//! is held in `Roll#evaluate` (the shim's test hook); meanwhile the proxy closes the page's
//! socket and keeps refusing new WebSocket connections, while plain HTTP still passes and
//! the server keeps running. Then the roll is released: with the socket known to be down,
//! the core stores the result and posts it. Once the socket is let through again the core
//! reconnects and the server delivers the turn's narration it kept for the client.

use gold_box_e2e::page::{CONNECT_TIMEOUT, TURN_TIMEOUT, UI_TIMEOUT, count_at, mentions_number};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TcpProxy, TestResult, ensure, page};
use std::time::Duration;

/// A check calls for exactly one roll, whatever it shows.
const PLAYER_LINE: &str = "I sneak past the sleeping guard.";
/// How long the socket stays refused after the result went over HTTP, so that the
/// result cannot have ridden a reconnected socket.
const OUTAGE_AFTER_RESULT: Duration = Duration::from_millis(500);

fn proxy(env: &E2e) -> TestResult<&TcpProxy> {
    env.proxy
        .as_ref()
        .ok_or_else(|| "this test needs the proxy".into())
}

async fn roll_result_survives_a_cut_socket(env: &E2e, version: FoundryVersion) -> TestResult {
    let proxy = proxy(env)?;
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(CONNECT_TIMEOUT).await?;
    ensure(proxy.stats().websockets_forwarded == 1, || {
        format!(
            "the page did not connect through the proxy: {:?}",
            proxy.stats()
        )
    })?;

    env.post_chat_as("Aria", PLAYER_LINE).await?;
    env.browser
        .eval("window.__shim.holdNextRolls(1); return null;")
        .await?;
    env.click_take_ai_turn().await?;

    // The AI asked for the roll; Foundry's dice are at it; the request is on record.
    env.browser
        .wait_until("window.__shim.heldRolls().length === 1", TURN_TIMEOUT)
        .await?;
    let stored = env
        .browser
        .eval(
            r#"return Object.keys(sessionStorage).filter((k) => k.startsWith("gold-box.outbox."));"#,
        )
        .await?;
    ensure(
        stored.as_array().is_some_and(|keys| keys.len() == 1),
        || format!("the execute_roll is not kept in the outbox while rolling: {stored}"),
    )?;
    let before_cut = env.server.metrics().await?;
    ensure(
        count_at(&before_cut, "/system/pending_ai_requests") == 1
            && count_at(&before_cut, "/websocket/roll_results/accepted") == 0,
        || format!("the server is not waiting for one roll: {before_cut:#}"),
    )?;

    // Cut the socket mid-roll; the server keeps running.
    let cut = proxy.cut();
    ensure(cut >= 1, || "the proxy had no connection to cut".to_owned())?;
    env.browser
        .wait_until(
            r#"["reconnecting", "connecting"].includes(game.modules.get("gold-box").api.state())"#,
            UI_TIMEOUT,
        )
        .await?;
    env.wait_for_metrics("the socket gone on the server's side", UI_TIMEOUT, |m| {
        count_at(m, "/websocket/connections/active") == 0
    })
    .await?;

    // The dice finish while the socket is down: the result goes over HTTP, once.
    let released = env
        .browser
        .eval("return window.__shim.releaseRolls();")
        .await?;
    ensure(released == 1, || {
        format!("released {released} rolls, not 1")
    })?;
    env.browser
        .wait_until(
            r#"game.modules.get("gold-box").api.core.outboxSize() === 0
               && !Object.keys(sessionStorage).some((k) => k.startsWith("gold-box.outbox."))"#,
            UI_TIMEOUT,
        )
        .await?;
    let delivered = env
        .wait_for_metrics("the roll result accepted", UI_TIMEOUT, |m| {
            count_at(m, "/websocket/roll_results/accepted") == 1
        })
        .await?;
    let state = env.core_state().await?;
    ensure(state != "connected", || {
        "the core reconnected while WebSockets were refused".to_owned()
    })?;
    tokio::time::sleep(OUTAGE_AFTER_RESULT).await;
    let refused = proxy.stats().websockets_refused;
    proxy.restore();

    // Back on a socket: the kept narration arrives and the turn ends.
    env.wait_until_ready(CONNECT_TIMEOUT + TURN_TIMEOUT)
        .await
        .map_err(|e| format!("the core did not come back after the cut: {e}"))?;
    let ai_messages = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    let metrics = env
        .wait_for_metrics("the turn completed", TURN_TIMEOUT, |m| {
            count_at(m, "/websocket/ai_processing/completed_requests") == 1
        })
        .await?;

    let rolls = &metrics["websocket"]["roll_results"];
    ensure(
        count_at(rolls, "/accepted") == 1
            && count_at(rolls, "/duplicate") == 0
            && count_at(rolls, "/expired") == 0
            && count_at(rolls, "/unknown") == 0
            && count_at(rolls, "/invalid") == 0
            && count_at(rolls, "/by_transport/http") >= 1
            && count_at(rolls, "/by_transport/ws") == 0,
        || format!("the result was not accepted exactly once, over HTTP: {rolls}"),
    )?;
    ensure(
        count_at(&metrics, "/websocket/ai_processing/failed_requests") == 0
            && count_at(&metrics, "/websocket/ai_processing/timeout_requests") == 0,
        || format!("the turn did not complete cleanly: {metrics:#}"),
    )?;
    ensure(
        count_at(&delivered, "/websocket/roll_results/by_transport/ws") == 0,
        || "a result went over the socket".to_owned(),
    )?;

    // Rolled once, posted once, narrated with that total.
    let roll_messages = env.roll_messages().await?;
    ensure(roll_messages.len() == 1, || {
        format!("expected one roll in chat, found {roll_messages:#?}")
    })?;
    let total = roll_messages[0]["rolls"][0]["total"]
        .as_f64()
        .ok_or_else(|| format!("the roll has no total: {}", roll_messages[0]))?;
    ensure(ai_messages.len() == 1, || {
        format!("expected one narration, found {ai_messages:#?}")
    })?;
    let id = ai_messages[0]["id"].as_str().unwrap_or_default();
    let narration = env.rendered_message_text(id).await?;
    ensure(mentions_number(&narration, total), || {
        format!("the narration {narration:?} does not use the roll's total {total}")
    })?;
    env.browser
        .wait_until(&page::button_state_is("ready"), UI_TIMEOUT)
        .await?;
    eprintln!(
        "{}: {cut} connection(s) cut, {refused} WebSocket attempt(s) refused during the outage",
        env.name
    );
    env.assert_no_page_errors().await
}

async fn run(version: FoundryVersion) -> TestResult {
    let env = E2e::start_behind_proxy(&format!("socket_cut_mid_roll_{}", version.tag())).await?;
    let outcome = roll_result_survives_a_cut_socket(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_roll_finished_while_the_socket_is_cut_arrives_once_over_http() -> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_roll_finished_while_the_socket_is_cut_arrives_once_over_http() -> TestResult {
    run(FoundryVersion::V13).await
}
