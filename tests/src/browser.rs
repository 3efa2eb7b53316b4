//! Headless Chromium, driven through chromedriver with fantoccini.
//!
//! Each [`Browser`] starts its own chromedriver (`/usr/bin/chromedriver`, or `$CHROMEDRIVER`)
//! on a free port, in its own process group, and a Chromium (`/usr/bin/chromium`, or
//! `$CHROME`) with a fresh profile directory. [`Browser::close`] ends the session; dropping
//! a browser that was not closed kills the whole process group. The profile is removed
//! either way.

use crate::{TempDir, TestResult, artifacts_dir};
use fantoccini::wd::{Capabilities, TimeoutConfiguration};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const DEFAULT_CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const DEFAULT_CHROME: &str = "/usr/bin/chromium";
/// How long chromedriver may take to accept a session.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(20);
/// How often `wait_until` re-evaluates its condition.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How long the shim page may take to boot (Foundry's `ready` has run).
const BOOT_TIMEOUT: Duration = Duration::from_secs(20);

/// A Chromium session.
#[derive(Debug)]
pub struct Browser {
    client: Option<Client>,
    driver: Option<Child>,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium.
    pub async fn launch() -> TestResult<Browser> {
        let driver_path =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| DEFAULT_CHROMEDRIVER.to_owned());
        let chrome_path = std::env::var("CHROME").unwrap_or_else(|_| DEFAULT_CHROME.to_owned());
        let profile = TempDir::new("gold-box-e2e-chromium")?;
        let port = free_port()?;
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start {driver_path}: {e}"))?;
        // From here on, a failure kills chromedriver through Drop.
        let mut browser = Browser {
            client: None,
            driver: Some(driver),
            _profile: profile,
        };
        let capabilities =
            chrome_capabilities(&chrome_path, &browser._profile.path().display().to_string());
        let webdriver_url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + DRIVER_START_TIMEOUT;
        let client = loop {
            let attempt = ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&webdriver_url)
                .await;
            match attempt {
                Ok(client) => break client,
                Err(error) if Instant::now() >= deadline => {
                    return Err(format!(
                        "no WebDriver session from {driver_path} with {chrome_path}: {error}"
                    )
                    .into());
                }
                Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            }
        };
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(30)),
                Some(Duration::ZERO),
            ))
            .await?;
        browser.client = Some(client);
        Ok(browser)
    }

    fn client(&self) -> TestResult<&Client> {
        self.client
            .as_ref()
            .ok_or_else(|| "the browser is closed".into())
    }

    /// Navigates to `url` without waiting for anything but the page load.
    pub async fn goto(&self, url: &str) -> TestResult {
        self.client()?.goto(url).await?;
        Ok(())
    }

    /// Navigates to a shim page and waits until it has booted (or reports why not).
    pub async fn open_shim(&self, url: &str) -> TestResult {
        self.goto(url).await?;
        self.wait_until(
            "window.__shim && (window.__shim.booted || window.__shim.bootError)",
            BOOT_TIMEOUT,
        )
        .await?;
        let boot_error = self.eval("return window.__shim.bootError;").await?;
        if let Some(error) = boot_error.as_str() {
            return Err(format!("the shim page failed to boot: {error}").into());
        }
        Ok(())
    }

    /// Runs `body` (a function body: use `return`) in the page; returns its JSON value.
    pub async fn eval(&self, body: &str) -> TestResult<Value> {
        Ok(self.client()?.execute(body, Vec::new()).await?)
    }

    /// Runs `body` as the body of an async function in the page and returns what it
    /// resolves to; a rejection becomes an `Err` with its message and stack.
    pub async fn eval_async(&self, body: &str) -> TestResult<Value> {
        let script = format!(
            "const done = arguments[arguments.length - 1];\n\
             (async () => {{\n{body}\n}})().then(\n\
               (value) => done({{ ok: value === undefined ? null : value }}),\n\
               (error) => done({{ error: String((error && error.stack) || error) }}));"
        );
        let result = self.client()?.execute_async(&script, Vec::new()).await?;
        if let Some(error) = result.get("error").and_then(Value::as_str) {
            return Err(format!("script rejected: {error}").into());
        }
        Ok(result.get("ok").cloned().unwrap_or(Value::Null))
    }

    /// Polls the JavaScript expression `condition` until it is truthy. An expression that
    /// throws counts as false. On timeout, the error names the condition.
    pub async fn wait_until(&self, condition: &str, timeout: Duration) -> TestResult {
        let script =
            format!("try {{ return Boolean({condition}); }} catch (e) {{ return false; }}");
        let deadline = Instant::now() + timeout;
        loop {
            if self.eval(&script).await? == Value::Bool(true) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(
                    format!("timed out after {timeout:?} waiting for `{condition}`").into(),
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Uncaught errors, unhandled rejections and errors Foundry's Hooks swallowed, as the
    /// shim recorded them.
    pub async fn page_errors(&self) -> TestResult<Vec<Value>> {
        let errors = self
            .eval("return window.__shimRecorder ? window.__shimRecorder.errors : [];")
            .await?;
        Ok(errors.as_array().cloned().unwrap_or_default())
    }

    /// Every console line of the page, `{level, text, time}`.
    pub async fn console_log(&self) -> TestResult<Vec<Value>> {
        let lines = self
            .eval("return window.__shimRecorder ? window.__shimRecorder.console : [];")
            .await?;
        Ok(lines.as_array().cloned().unwrap_or_default())
    }

    /// Saves a PNG screenshot as `target/e2e-artifacts/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> TestResult<PathBuf> {
        let png = self.client()?.screenshot().await?;
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Saves a PNG screenshot of the first element matching `selector` as
    /// `target/e2e-artifacts/<name>.png`.
    pub async fn screenshot_element(&self, selector: &str, name: &str) -> TestResult<PathBuf> {
        let element = self
            .client()?
            .find(Locator::Css(selector))
            .await
            .map_err(|e| format!("no element {selector} to photograph: {e}"))?;
        let png = element.screenshot().await?;
        let dir = artifacts_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png)?;
        Ok(path)
    }

    /// Clicks the first element matching `selector` the way a user does: WebDriver scrolls
    /// it into view, checks that it can be interacted with (visible, enabled, not covered)
    /// and sends real pointer events to its centre.
    pub async fn click(&self, selector: &str) -> TestResult {
        let element = self
            .client()?
            .find(Locator::Css(selector))
            .await
            .map_err(|e| format!("no element {selector} to click: {e}"))?;
        element
            .click()
            .await
            .map_err(|e| format!("cannot click {selector}: {e}"))?;
        Ok(())
    }

    /// Keeps what explains a failure: a screenshot, the console and the page errors
    /// (`<name>.png`, `<name>.log`). Never fails; problems are printed instead.
    pub async fn save_failure_artifacts(&self, name: &str) {
        match self.screenshot(name).await {
            Ok(path) => eprintln!("screenshot: {}", path.display()),
            Err(error) => eprintln!("no screenshot: {error}"),
        }
        let mut log = String::new();
        match self.console_log().await {
            Ok(lines) => {
                for line in lines {
                    log.push_str(&format!(
                        "[{}] {}\n",
                        line.get("level").and_then(Value::as_str).unwrap_or("?"),
                        line.get("text").and_then(Value::as_str).unwrap_or("")
                    ));
                }
            }
            Err(error) => log.push_str(&format!("(console not available: {error})\n")),
        }
        match self.page_errors().await {
            Ok(errors) => {
                for error in errors {
                    log.push_str(&format!("[page error] {error}\n"));
                }
            }
            Err(error) => log.push_str(&format!("(page errors not available: {error})\n")),
        }
        let dir = artifacts_dir();
        let path = dir.join(format!("{name}.log"));
        let written = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, &log));
        match written {
            Ok(()) => eprintln!("page console: {}", path.display()),
            Err(error) => eprintln!("cannot write {}: {error}\n{log}", path.display()),
        }
    }

    /// Ends the WebDriver session (Chromium exits) and stops chromedriver.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        }
        self.kill_driver();
    }

    fn kill_driver(&mut self) {
        let Some(mut driver) = self.driver.take() else {
            return;
        };
        // chromedriver leads its own process group, Chromium included: end them all.
        let group = format!("-{}", driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        self.kill_driver();
    }
}

/// The W3C capabilities for headless Chromium with the project's flags.
fn chrome_capabilities(chrome_path: &str, profile_dir: &str) -> Capabilities {
    let args = [
        "--headless=new".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=1400,900".to_owned(),
        format!("--user-data-dir={profile_dir}"),
    ];
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": { "binary": chrome_path, "args": args },
    });
    match capabilities {
        Value::Object(map) => map,
        _ => Capabilities::new(),
    }
}

/// A port that was free a moment ago (chromedriver binds it right after).
fn free_port() -> TestResult<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}
