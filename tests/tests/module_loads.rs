//! The packaged module loads into Foundry v13 and v14 (the shim page), connects to the
//! real server, and shows the Take AI Turn button exactly once, in the connection's state.

use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure};
use serde_json::Value;
use std::time::Duration;

/// Handshake with the real server, from page load.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The button following a state event.
const UI_TIMEOUT: Duration = Duration::from_secs(5);

fn core_state_is(state: &str) -> String {
    format!(r#"game.modules.get("gold-box")?.api?.state() === "{state}""#)
}

fn button_state_is(state: &str) -> String {
    format!(r#"window.__shim.button().state === "{state}""#)
}

/// `{count, visible, state, label, title, disabled, classes, ...}` of the button.
async fn button(env: &E2e) -> TestResult<Value> {
    env.browser.eval("return window.__shim.button();").await
}

async fn localize(env: &E2e, key: &str) -> TestResult<String> {
    let value = env
        .browser
        .eval(&format!("return game.i18n.localize({key:?});"))
        .await?;
    let text = value.as_str().unwrap_or_default().to_owned();
    ensure(!text.is_empty() && text != key, || {
        format!("lang/en.json has no text for {key}")
    })?;
    Ok(text)
}

/// The button exists once, is visible, and shows `state` with its class and label.
async fn assert_single_button_in_state(env: &E2e, state: &str, label_key: &str) -> TestResult {
    let button = button(env).await?;
    ensure(button["count"] == 1, || {
        format!("expected exactly one #gold-box-ai-turn-btn, found {button}")
    })?;
    ensure(button["visible"] == true, || {
        format!("the button is not visible: {button}")
    })?;
    ensure(button["state"] == state, || {
        format!("expected the {state} state, found {button}")
    })?;
    let class = format!("gold-box-state-{state}");
    let classes = button["classes"].as_array().cloned().unwrap_or_default();
    ensure(classes.iter().any(|c| c == class.as_str()), || {
        format!("the button lacks the class {class}: {button}")
    })?;
    ensure(
        classes
            .iter()
            .filter(|c| c.as_str().is_some_and(|c| c.starts_with("gold-box-state-")))
            .count()
            == 1,
        || format!("the button has more than one state class: {button}"),
    )?;
    let label = localize(env, label_key).await?;
    ensure(button["label"] == label.as_str(), || {
        format!("expected the label {label:?}, found {button}")
    })?;
    Ok(())
}

async fn assert_no_page_errors(env: &E2e) -> TestResult {
    let errors = env.browser.page_errors().await?;
    ensure(errors.is_empty(), || {
        format!("the page had uncaught errors: {errors:#?}")
    })
}

async fn connects_and_shows_one_ready_button(env: &E2e, version: FoundryVersion) -> TestResult {
    let health = env.server.health().await?;
    ensure(
        health["status"] == "ok" && health["ai_busy"] == false,
        || format!("unexpected /api/health: {health}"),
    )?;

    env.open_foundry(version, TEST_TOKEN).await?;
    env.browser
        .wait_until(&core_state_is("connected"), CONNECT_TIMEOUT)
        .await?;
    env.browser
        .wait_until(&button_state_is("ready"), UI_TIMEOUT)
        .await?;
    assert_single_button_in_state(env, "ready", "GOLD_BOX.Button.Label.Ready").await?;
    let enabled = button(env).await?["disabled"] == false;
    ensure(enabled, || "the ready button is disabled".to_owned())?;

    // Foundry re-renders the chat log: still one button, still ready.
    env.browser
        .eval_async("await window.__shim.rerenderChat();")
        .await?;
    env.browser
        .eval_async("await window.__shim.rerenderChat();")
        .await?;
    assert_single_button_in_state(env, "ready", "GOLD_BOX.Button.Label.Ready").await?;

    env.browser.screenshot(&env.name).await?;
    assert_no_page_errors(env).await
}

async fn wrong_token_ends_in_auth_failed(env: &E2e, version: FoundryVersion) -> TestResult {
    env.open_foundry(version, "not-the-token").await?;
    env.browser
        .wait_until(&core_state_is("auth_failed"), CONNECT_TIMEOUT)
        .await?;
    env.browser
        .wait_until(&button_state_is("auth-failed"), UI_TIMEOUT)
        .await?;
    assert_single_button_in_state(env, "auth-failed", "GOLD_BOX.Button.Label.AuthFailed").await?;

    // It stays there: a refused token is not retried in a loop.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let state = env
        .browser
        .eval(r#"return game.modules.get("gold-box").api.state();"#)
        .await?;
    ensure(state == "auth_failed", || {
        format!("the core left auth_failed for {state}")
    })?;
    assert_single_button_in_state(env, "auth-failed", "GOLD_BOX.Button.Label.AuthFailed").await?;

    let message = localize(env, "GOLD_BOX.Errors.AuthFailed").await?;
    let notifications = env
        .browser
        .eval("return window.__shim.notifications;")
        .await?;
    let shown = notifications.as_array().is_some_and(|all| {
        all.iter()
            .any(|n| n["type"] == "error" && n["message"] == message.as_str())
    });
    ensure(shown, || {
        format!("no error notification {message:?} among {notifications}")
    })?;
    assert_no_page_errors(env).await
}

async fn run_connects(version: FoundryVersion) -> TestResult {
    let env = E2e::start(&format!("module_connects_{}", version.tag())).await?;
    let outcome = connects_and_shows_one_ready_button(&env, version).await;
    env.finish(outcome).await
}

async fn run_wrong_token(version: FoundryVersion) -> TestResult {
    let env = E2e::start(&format!("wrong_token_{}", version.tag())).await?;
    let outcome = wrong_token_ends_in_auth_failed(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_module_connects_and_shows_one_ready_button() -> TestResult {
    run_connects(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_module_connects_and_shows_one_ready_button() -> TestResult {
    run_connects(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_wrong_token_ends_in_auth_failed_on_the_button() -> TestResult {
    run_wrong_token(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_wrong_token_ends_in_auth_failed_on_the_button() -> TestResult {
    run_wrong_token(FoundryVersion::V13).await
}
