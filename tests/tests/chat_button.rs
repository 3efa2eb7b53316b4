//! Where the Take AI Turn button lives: beside Foundry's chat input wherever Foundry puts
//! that input, exactly once, keeping its state; and only for the GM.

use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, TestResult, ensure};
use serde_json::Value;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
const UI_TIMEOUT: Duration = Duration::from_secs(5);

const CONNECTED: &str = r#"game.modules.get("gold-box")?.api?.state() === "connected""#;
const BUTTON_READY: &str = r#"window.__shim.button().state === "ready""#;

/// The button is single, visible, ready, directly before the chat input, and in the same
/// place as the input (`expected`: "sidebar", "notifications" or "popout").
async fn assert_button_beside_input(env: &E2e, step: &str, expected: &str) -> TestResult {
    let report = env
        .browser
        .eval(
            "return { button: window.__shim.button(), input: window.__shim.inputLocation(), \
             inputVisible: window.__shim.isVisible('#chat-message') };",
        )
        .await?;
    let button = &report["button"];
    ensure(report["input"] == expected, || {
        format!(
            "{step}: the shim put the chat input in {} instead of {expected}",
            report["input"]
        )
    })?;
    ensure(button["count"] == 1, || {
        format!("{step}: expected one button, found {report}")
    })?;
    ensure(button["container"] == expected, || {
        format!("{step}: the button is not beside the input: {report}")
    })?;
    ensure(button["nextSiblingId"] == "chat-message", || {
        format!("{step}: the button is not directly before #chat-message: {report}")
    })?;
    ensure(
        button["visible"] == true && report["inputVisible"] == true,
        || format!("{step}: the button or the input is hidden: {report}"),
    )?;
    ensure(button["state"] == "ready", || {
        format!("{step}: the button lost its state: {report}")
    })
}

async fn step(env: &E2e, name: &str, script: &str, expected: &str) -> TestResult {
    env.browser.eval_async(script).await?;
    assert_button_beside_input(env, name, expected).await
}

async fn button_follows_the_chat_input(env: &E2e, version: FoundryVersion) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.browser.wait_until(CONNECTED, CONNECT_TIMEOUT).await?;
    env.browser.wait_until(BUTTON_READY, UI_TIMEOUT).await?;
    assert_button_beside_input(env, "after start-up", "sidebar").await?;

    step(
        env,
        "sidebar collapsed",
        "window.__shim.collapseSidebar();",
        "notifications",
    )
    .await?;
    step(
        env,
        "sidebar expanded",
        "window.__shim.expandSidebar();",
        "sidebar",
    )
    .await?;
    step(
        env,
        "combat tab",
        "window.__shim.activateTab('combat');",
        "notifications",
    )
    .await?;
    step(
        env,
        "chat tab",
        "window.__shim.activateTab('chat');",
        "sidebar",
    )
    .await?;
    step(
        env,
        "chat popped out",
        "await window.__shim.popoutChat();",
        "popout",
    )
    .await?;
    step(
        env,
        "chat re-rendered",
        "await window.__shim.rerenderChat();",
        "popout",
    )
    .await?;
    step(
        env,
        "sidebar collapsed with popout",
        "window.__shim.collapseSidebar();",
        "popout",
    )
    .await?;
    step(
        env,
        "popout closed",
        "await window.__shim.closeChatPopout();",
        "notifications",
    )
    .await?;
    step(
        env,
        "sidebar expanded again",
        "window.__shim.expandSidebar();",
        "sidebar",
    )
    .await?;
    step(
        env,
        "chat re-rendered in the sidebar",
        "await window.__shim.rerenderChat();",
        "sidebar",
    )
    .await?;

    // The input is Foundry's own element for this version: v13's textarea, v14's ProseMirror
    // editor (no textarea at all).
    let input = env
        .browser
        .eval(
            "return { tag: document.getElementById('chat-message').tagName.toLowerCase(), \
             textareas: document.querySelectorAll('textarea').length };",
        )
        .await?;
    let expected = match version {
        FoundryVersion::V13 => "textarea",
        FoundryVersion::V14 => "prose-mirror",
    };
    ensure(input["tag"] == expected, || {
        format!(
            "{}: the chat input is {input}, not a {expected}",
            version.tag()
        )
    })?;
    if version == FoundryVersion::V14 {
        ensure(input["textareas"] == 0, || {
            format!("v14 has no textarea, found {input}")
        })?;
        env.browser
            .screenshot(&format!("chat-button-{}", version.tag()))
            .await?;
    }
    let errors = env.browser.page_errors().await?;
    ensure(errors.is_empty(), || format!("page errors: {errors:#?}"))
}

async fn players_get_neither_button_nor_core(env: &E2e) -> TestResult {
    for version in FoundryVersion::ALL {
        let url = env.site.page_url(
            version,
            &[
                ("server", env.server.url().as_str()),
                ("token", TEST_TOKEN),
                ("user", "player"),
            ],
        );
        env.browser.open_shim(&url).await?;
        // Give a wrongly started core the time to show itself.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let report = env
            .browser
            .eval(
                r#"return { isGM: game.user.isGM, buttons: window.__shim.buttonCount(),
                    api: game.modules.get("gold-box").api ?? null,
                    wasmRequested: performance.getEntriesByType("resource")
                        .some((e) => e.name.includes("/wasm/")) };"#,
            )
            .await?;
        ensure(
            report["isGM"] == false
                && report["buttons"] == 0
                && report["api"] == Value::Null
                && report["wasmRequested"] == false,
            || format!("{}: a player got Gold Box: {report}", version.tag()),
        )?;
        let errors = env.browser.page_errors().await?;
        ensure(errors.is_empty(), || {
            format!("{}: page errors: {errors:#?}", version.tag())
        })?;
    }
    Ok(())
}

async fn run_follows(version: FoundryVersion) -> TestResult {
    let env = E2e::start(&format!("{}_button_follows_the_chat_input", version.tag())).await?;
    let outcome = button_follows_the_chat_input(&env, version).await;
    env.finish(outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_button_follows_the_chat_input_and_stays_single() -> TestResult {
    run_follows(FoundryVersion::V13).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_button_follows_the_prose_mirror_chat_input_and_stays_single() -> TestResult {
    run_follows(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn players_get_neither_the_button_nor_the_core() -> TestResult {
    let env = E2e::start("players_get_no_gold_box").await?;
    let outcome = players_get_neither_button_nor_core(&env).await;
    env.finish(outcome).await
}
