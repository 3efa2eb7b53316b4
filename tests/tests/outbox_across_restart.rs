//! A roll finished while the server is down: the outcome waits in the tab's storage
//! (the HTTP fallback cannot reach anyone either), and once the restarted server is back
//! the module delivers it by itself, is answered (the new server never issued that id:
//! `unknown`), and empties its outbox. The turn the old server was running is reported
//! as over, so the button returns to ready instead of thinking for ever.

use gold_box_e2e::page::{CONNECT_TIMEOUT, TURN_TIMEOUT, UI_TIMEOUT, count_at};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use std::time::Duration;

/// Reconnect delays are 0, 1, 2, 5 s with ±50 % jitter.
const RECONNECT_TIMEOUT: Duration = Duration::from_secs(20);

const OUTBOX_KEYS: &str =
    r#"Object.keys(sessionStorage).filter((k) => k.startsWith("gold-box.outbox."))"#;

async fn stored_outcome_is_delivered_after_the_restart(
    env: &mut E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(CONNECT_TIMEOUT).await?;
    env.post_chat_as("Aria", "I attack the goblin with my longsword!")
        .await?;
    env.browser
        .eval("window.__shim.holdNextRolls(1); return null;")
        .await?;
    env.click_take_ai_turn().await?;
    env.browser
        .wait_until("window.__shim.heldRolls().length === 1", TURN_TIMEOUT)
        .await
        .map_err(|e| format!("the AI's roll never started: {e}"))?;

    env.server.stop().await?;
    env.browser
        .wait_until(
            r#"game.modules.get("gold-box").api.state() !== "connected""#,
            UI_TIMEOUT,
        )
        .await?;
    env.browser
        .eval("return window.__shim.releaseRolls();")
        .await?;
    // The socket is down and the HTTP fallback finds no server: the outcome stays.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let kept = env
        .browser
        .eval(&format!(
            r#"return {{ size: game.modules.get("gold-box").api.core.outboxSize(), stored: {OUTBOX_KEYS}.length }};"#
        ))
        .await?;
    ensure(kept["size"] == 1 && kept["stored"] == 1, || {
        format!("the rolled outcome is not kept while the server is down: {kept}")
    })?;

    env.server.start_again().await?;
    env.wait_until_ready(RECONNECT_TIMEOUT)
        .await
        .map_err(|e| format!("the module did not reconnect by itself: {e}"))?;
    env.browser
        .wait_until(
            &format!(r#"game.modules.get("gold-box").api.core.outboxSize() === 0 && {OUTBOX_KEYS}.length === 0"#),
            UI_TIMEOUT,
        )
        .await
        .map_err(|e| format!("the stored outcome was not delivered after the restart: {e}"))?;
    let metrics = env.server.metrics().await?;
    let answered = count_at(&metrics, "/websocket/roll_results/unknown");
    ensure(
        answered == 1 && count_at(&metrics, "/websocket/roll_results/accepted") == 0,
        || {
            format!(
                "the restarted server did not answer the old outcome once as unknown: {metrics:#}"
            )
        },
    )?;
    env.browser
        .wait_until(&page::button_state_is("ready"), UI_TIMEOUT)
        .await
        .map_err(|e| format!("the button did not return to ready after the lost turn: {e}"))?;
    env.assert_no_page_errors().await
}

async fn run(version: FoundryVersion) -> TestResult {
    let mut env = E2e::start(&format!("outbox_across_restart_{}", version.tag())).await?;
    let outcome = stored_outcome_is_delivered_after_the_restart(&mut env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_an_outcome_rolled_while_the_server_is_down_is_delivered_after_its_restart()
-> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_an_outcome_rolled_while_the_server_is_down_is_delivered_after_its_restart()
-> TestResult {
    run(FoundryVersion::V13).await
}
