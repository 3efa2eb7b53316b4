//! The companion server restarts (stopped, then started again on the same port with the
//! same data directory and tokens): the module notices, reconnects by itself with the
//! same client id, the button comes back to ready, and the next AI turn works.

use gold_box_e2e::page::{CONNECT_TIMEOUT, TURN_TIMEOUT, UI_TIMEOUT, count_at};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use std::time::{Duration, Instant};

/// How long the server stays down: long enough for the core's immediate reconnect
/// attempt to be refused, so the backoff path runs too.
const DOWNTIME: Duration = Duration::from_millis(800);
/// Reconnect delays are 0, 1, 2, 5 s with ±50 % jitter: after a short outage the core is
/// back within a few seconds.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);

async fn module_reconnects_after_a_server_restart(
    env: &mut E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(CONNECT_TIMEOUT).await?;
    let client_id = env
        .browser
        .eval(r#"return game.modules.get("gold-box").api.clientId();"#)
        .await?;
    env.record_button_states().await?;

    env.server.stop().await?;
    let stopped_at = Instant::now();
    env.browser
        .wait_until(
            r#"game.modules.get("gold-box").api.state() !== "connected""#,
            UI_TIMEOUT,
        )
        .await
        .map_err(|e| format!("the core did not notice the server going away: {e}"))?;
    let while_down = env.button().await?;
    ensure(
        while_down["state"] != "ready" && while_down["disabled"] == true,
        || format!("the button offers a turn while the server is down: {while_down}"),
    )?;
    tokio::time::sleep(DOWNTIME.saturating_sub(stopped_at.elapsed())).await;

    env.server.start_again().await?;
    env.wait_until_ready(RECONNECT_TIMEOUT)
        .await
        .map_err(|e| format!("the module did not reconnect by itself: {e}"))?;
    let back_after = stopped_at.elapsed();

    let same_id = env
        .browser
        .eval(r#"return game.modules.get("gold-box").api.clientId();"#)
        .await?;
    ensure(same_id == client_id, || {
        format!("the client id changed over the restart: {client_id} → {same_id}")
    })?;
    let states = env.button_states().await?;
    ensure(
        states.first().map(String::as_str) == Some("ready")
            && states.iter().any(|s| s != "ready")
            && states.last().map(String::as_str) == Some("ready"),
        || format!("the button went through {states:?}, not ready → not ready → ready"),
    )?;
    let metrics = env.server.metrics().await?;
    ensure(
        count_at(&metrics, "/websocket/connections/successful") == 1
            && count_at(&metrics, "/websocket/connections/active") == 1,
        || format!("the restarted server does not hold the one reconnected client: {metrics:#}"),
    )?;

    // The session works again: a turn from the restarted server.
    env.post_chat_as("Aria", "Hello? Is anyone there?").await?;
    env.click_take_ai_turn().await?;
    env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    eprintln!(
        "{}: back {} ms after the stop; button states {states:?}",
        env.name,
        back_after.as_millis()
    );
    env.assert_no_page_errors().await
}

async fn run(version: FoundryVersion) -> TestResult {
    let mut env = E2e::start(&format!("server_restart_{}", version.tag())).await?;
    let outcome = module_reconnects_after_a_server_restart(&mut env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_the_module_reconnects_by_itself_after_a_server_restart() -> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_the_module_reconnects_by_itself_after_a_server_restart() -> TestResult {
    run(FoundryVersion::V13).await
}
