//! A GM changes a Gold Box setting in Foundry: the button shows the settings-pending
//! indicator at once; after the debounce the change is synced, the server acknowledges
//! it and the indicator goes; and the server holds the new value, which the next AI turn
//! uses.
//!
//! No public server API reports a client's held settings, so "the server holds it" is
//! checked through what the server does with it: the AI role decides who speaks the
//! narration ("AI Player" for the `player` role), and the turn is asked for after the
//! indicator went, so no sync rides along with it (the metrics show none).

use gold_box_e2e::page::{MODULE_FLAG, TURN_TIMEOUT, UI_TIMEOUT, count_at};
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure, page};
use serde_json::Value;
use std::time::Duration;

/// The core's debounce: a change is synced this long after the last one.
const DEBOUNCE: Duration = Duration::from_millis(1000);
/// Timer slack when comparing page times against the debounce.
const TIMER_SLACK_MS: f64 = 20.0;

const SYNCS_RECEIVED: &str = "/websocket/connections/messages_received_by_type/settings_sync";
const ACKS_SENT: &str = "/websocket/connections/messages_sent_by_type/settings_ack";

/// `{pending, hasClass, indicators, title}`: the indicator as the core and the DOM show it.
async fn indicator(env: &E2e) -> TestResult<Value> {
    env.browser
        .eval(
            r##"const button = document.querySelector("#gold-box-ai-turn-btn");
            const dot = button.querySelector("span.settings-pending-indicator");
            return {
              // Nothing of the indicator's content spills out of the dot.
              dotContained: dot ? dot.scrollHeight <= dot.clientHeight && dot.scrollWidth <= dot.clientWidth : null,
              pending: game.modules.get("gold-box").api.core.settingsPending(),
              hasClass: button.classList.contains("settings-pending"),
              indicators: button.querySelectorAll("span.settings-pending-indicator").length,
              indicatorsInPage: document.querySelectorAll(".settings-pending-indicator").length,
              indicatorVisible: window.__shim.isVisible("#gold-box-ai-turn-btn .settings-pending-indicator"),
              title: button.title,
            };"##,
        )
        .await
}

/// Records, in the page, when the button gains and loses the `settings-pending` class.
async fn watch_pending_class(env: &E2e) -> TestResult {
    env.browser
        .eval(
            r##"const button = document.querySelector("#gold-box-ai-turn-btn");
            window.__pendingChanges = [];
            window.__pendingObserver = new MutationObserver(() => {
              const pending = button.classList.contains("settings-pending");
              const last = window.__pendingChanges.at(-1);
              if (!last || last.pending !== pending) window.__pendingChanges.push({ pending, at: performance.now() });
            });
            window.__pendingObserver.observe(button, { attributes: true, attributeFilter: ["class"] });
            return null;"##,
        )
        .await?;
    Ok(())
}

/// Sets a Gold Box setting through `game.settings.set`, as Foundry's settings form does
/// on save (its `onChange` runs); returns `performance.now()` right after.
async fn change_setting(env: &E2e, key: &str, value: &str) -> TestResult<f64> {
    let at = env
        .browser
        .eval_async(&format!(
            "await window.__shim.setSetting({}, {}); return performance.now();",
            Value::from(key),
            Value::from(value)
        ))
        .await?;
    at.as_f64()
        .ok_or_else(|| format!("no time from the page: {at}").into())
}

async fn a_changed_setting_is_pending_until_the_server_acks_it(
    env: &E2e,
    version: FoundryVersion,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(page::CONNECT_TIMEOUT).await?;
    // The settings as they stood at start-up are synced on connect, without the indicator.
    let before = env
        .wait_for_metrics("the start-up settings sync acknowledged", UI_TIMEOUT, |m| {
            count_at(m, SYNCS_RECEIVED) >= 1 && count_at(m, ACKS_SENT) >= 1
        })
        .await?;
    let shown = indicator(env).await?;
    ensure(
        shown["pending"] == false && shown["hasClass"] == false && shown["indicatorsInPage"] == 0,
        || format!("the indicator shows before any change: {shown}"),
    )?;
    let pending_text = env
        .browser
        .eval(r#"return game.i18n.localize("GOLD_BOX.Indicator.SettingsPending");"#)
        .await?;
    let pending_text = pending_text.as_str().unwrap_or_default().to_owned();

    // Two quick changes, as a GM trying the roles out: one sync after the last.
    watch_pending_class(env).await?;
    change_setting(env, "aiRole", "dm_assistant").await?;
    let shown = indicator(env).await?;
    ensure(
        shown["pending"] == true
            && shown["hasClass"] == true
            && shown["indicators"] == 1
            && shown["indicatorsInPage"] == 1
            && shown["indicatorVisible"] == true,
        || format!("the indicator does not show right after the change: {shown}"),
    )?;
    ensure(shown["dotContained"] == true, || {
        format!("the indicator's text spills out of its dot: {shown}")
    })?;
    ensure(
        shown["title"]
            .as_str()
            .is_some_and(|t| !pending_text.is_empty() && t.contains(&pending_text)),
        || format!("the button's title does not say {pending_text:?}: {shown}"),
    )?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let last_change = change_setting(env, "aiRole", "player").await?;
    let photo = env
        .browser
        .screenshot_element("#sidebar", &format!("settings-pending-{}", version.tag()))
        .await?;
    let shown = indicator(env).await?;
    ensure(shown["pending"] == true && shown["indicators"] == 1, || {
        format!(
            "the indicator went before the screenshot {} was taken (the debounce is \
                 {DEBOUNCE:?}): {shown}",
            photo.display()
        )
    })?;

    // The indicator goes once the debounced sync is acknowledged, not before.
    env.browser
        .wait_until(
            r##"!game.modules.get("gold-box").api.core.settingsPending()
                && !document.querySelector("#gold-box-ai-turn-btn").classList.contains("settings-pending")
                && document.querySelectorAll(".settings-pending-indicator").length === 0"##,
            DEBOUNCE + UI_TIMEOUT,
        )
        .await?;
    let changes = env.browser.eval("return window.__pendingChanges;").await?;
    let cleared_at = changes
        .as_array()
        .and_then(|all| all.iter().rev().find(|c| c["pending"] == false))
        .and_then(|c| c["at"].as_f64())
        .ok_or_else(|| format!("the class change was not observed: {changes}"))?;
    let waited_ms = cleared_at - last_change;
    ensure(
        waited_ms + TIMER_SLACK_MS >= DEBOUNCE.as_millis() as f64,
        || {
            format!(
                "the indicator went {waited_ms:.0} ms after the last change, before the debounce"
            )
        },
    )?;
    let flips = changes.as_array().map(Vec::len).unwrap_or(0);
    ensure(flips == 2, || {
        format!("the indicator flickered instead of showing once and going once: {changes}")
    })?;

    let after = env.server.metrics().await?;
    let syncs = count_at(&after, SYNCS_RECEIVED) - count_at(&before, SYNCS_RECEIVED);
    let acks = count_at(&after, ACKS_SENT) - count_at(&before, ACKS_SENT);
    ensure(syncs == 1 && acks == 1, || {
        format!(
            "expected one settings_sync for the two changes and one settings_ack, found \
             {syncs} and {acks}"
        )
    })?;
    let role = env
        .browser
        .eval(r#"return window.__shim.getSetting("aiRole");"#)
        .await?;
    ensure(role == "player", || {
        format!("Foundry did not keep the setting: {role}")
    })?;

    // The server holds it: the next turn is played in the new role.
    env.post_chat_as("Aria", "I attack the goblin with my longsword!")
        .await?;
    env.click_take_ai_turn().await?;
    let ai_messages = env.wait_for_ai_messages(1, TURN_TIMEOUT).await?;
    env.browser
        .wait_until(&page::button_state_is("ready"), TURN_TIMEOUT)
        .await?;
    let narration = &ai_messages[0];
    ensure(
        narration["alias"] == "AI Player" && narration["flags"][MODULE_FLAG]["kind"] == "narration",
        || format!("the turn was not played in the player role: {narration}"),
    )?;
    let during_turn = env.server.metrics().await?;
    ensure(
        count_at(&during_turn, SYNCS_RECEIVED) == count_at(&after, SYNCS_RECEIVED),
        || "a settings_sync rode along with the turn: the held value was not used alone".to_owned(),
    )?;
    env.assert_no_page_errors().await
}

async fn run(version: FoundryVersion) -> TestResult {
    let env = E2e::start(&format!("settings_sync_{}", version.tag())).await?;
    let outcome = a_changed_setting_is_pending_until_the_server_acks_it(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_changed_setting_shows_the_indicator_until_the_server_acks_it() -> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_changed_setting_shows_the_indicator_until_the_server_acks_it() -> TestResult {
    run(FoundryVersion::V13).await
}
