//! (d) The roll round trip from headless Chromium running the real module: the packaged
//! `dist/gold-box/` (wasm core and JS glue) in the fake Foundry page of the end-to-end
//! tests, rolling with the page's Foundry dice and posting each roll to its chat.
//! (f, second half) The time from module load to connected in the same browser.
//!
//! Module load to connected is read in the page: from the start of the request for the
//! module's entry script (Resource Timing of `scripts/gold-box.js`) to the moment the
//! Take AI Turn button turns ready, i.e. the core reported `connected` (a
//! MutationObserver stamps it). The observer is installed as soon as WebDriver returns
//! from the navigation; a load that connected before that cannot be timed and is
//! counted as missed, never guessed.
//!
//! Each roll posts a chat message, and the fake page's chat gets slower as it grows; the
//! page's own roll and message are timed alone first (a reference, on the same number of
//! messages), then the page is loaded afresh for the module's rolls.

use crate::BenchResult;
use crate::load::{self, Counts};
use crate::rolls::RollCaller;
use crate::server::{ServerProcess, TOKEN};
use crate::stats::{Latencies, Summary};
use gold_box_e2e::{Browser, FoundryVersion, ShimSite};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// The Foundry generation the page imitates.
const VERSION: FoundryVersion = FoundryVersion::V13;

/// Stamps the moment the module's button turns ready (connected), with Resource Timing
/// of the module's entry script and of the .wasm. Run right after navigating.
const TIME_CONNECT: &str = r##"
return await new Promise((finish) => {
  const ready = () => document.querySelector("#gold-box-ai-turn-btn")?.dataset.state === "ready";
  const resource = (suffix) => performance.getEntriesByType("resource").find((e) => e.name.endsWith(suffix));
  if (ready()) { finish({ missed: true }); return; }
  const observer = new MutationObserver(() => {
    if (!ready()) return;
    const connected = performance.now();
    observer.disconnect();
    const script = resource("/modules/gold-box/scripts/gold-box.js");
    const wasm = resource("/modules/gold-box/wasm/gold_box_wasm_bg.wasm");
    finish({ missed: false, connected, moduleStart: script ? script.startTime : null,
             wasmEnd: wasm ? wasm.responseEnd : null });
  });
  observer.observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"] });
  setTimeout(() => { observer.disconnect(); finish({ error: "the module did not connect within 20 s" }); }, 20000);
});
"##;

/// Times each phase of the module's rolls in the page, on the page's clock: a roll's
/// `execute_roll` reaching the socket's message handler, the module asking Foundry's
/// `Roll#evaluate`, `Roll#toMessage` done (the chat message posted), and the module's
/// `roll_result` handed to `WebSocket#send`. The socket is found on its first `send`
/// (a warm-up roll's result); its message handler is wrapped from then on, so rolls
/// before that have no arrival time and are left out. Installed after the reference
/// (which rolls with the same `Roll` class) and before the module's rolls.
const PROBE: &str = r##"
const probe = { rolls: [], current: null, socket: null };
window.__goldBoxProbe = probe;
const now = () => performance.now();
const send = WebSocket.prototype.send;
WebSocket.prototype.send = function (data) {
  if (probe.socket !== this) {
    probe.socket = this;
    const handler = this.onmessage;
    this.onmessage = function (event) {
      const started = now();
      if (typeof event.data === "string" && event.data.includes('"execute_roll"')) {
        if (probe.last) probe.last.next = started;
        probe.current = { arrived: started, other: 0 };
        return handler.call(this, event);
      }
      // Any other frame (the roll's ack, a pong): the module's work on it counts for the
      // roll in progress, or else the last one.
      const result = handler.call(this, event);
      const roll = probe.current ?? probe.last;
      if (roll) roll.other += now() - started;
      return result;
    };
  }
  const roll = probe.current;
  if (roll && roll.posted !== undefined && typeof data === "string" && data.includes('"roll_result"')) {
    roll.sent = now();
    probe.rolls.push(roll);
    probe.last = roll;
    probe.current = null;
  }
  return send.call(this, data);
};
// The module's storage writes and removals (sessionStorage), timed for the roll in
// progress or else the last one: a part of the module's work.
for (const name of ["setItem", "removeItem"]) {
  const original = Storage.prototype[name];
  Storage.prototype[name] = function (...args) {
    const started = now();
    try {
      return original.apply(this, args);
    } finally {
      const roll = probe.current ?? probe.last;
      if (roll) roll.storage = (roll.storage ?? 0) + (now() - started);
    }
  };
}
// Animation frames (the page's rendering steps), to see whether they fall between rolls.
probe.frames = [];
const frame = (at) => {
  if (probe.frames.length < 20000) probe.frames.push(at);
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
const Roll = globalThis.foundry?.dice?.Roll ?? globalThis.Roll;
const evaluate = Roll.prototype.evaluate;
Roll.prototype.evaluate = function (...args) {
  if (probe.current && probe.current.evaluate === undefined) probe.current.evaluate = now();
  return evaluate.apply(this, args);
};
const toMessage = Roll.prototype.toMessage;
Roll.prototype.toMessage = async function (...args) {
  const roll = probe.current;
  const message = await toMessage.apply(this, args);
  if (roll && roll === probe.current) roll.posted = now();
  return message;
};
return true;
"##;

/// How many times the page is loaded to time the connection (the first with empty
/// caches), and how many rolls.
#[derive(Debug, Clone, Copy)]
pub struct BrowserCounts {
    pub page_loads: usize,
    pub rolls: Counts,
}

/// The browser's figures.
#[derive(Debug, Clone)]
pub struct BrowserFigures {
    /// Module load (entry script requested) to connected on the first load, with empty
    /// caches (the browser compiles the .wasm).
    pub connect_cold_ms: Option<f64>,
    /// The same over the later loads (cached and compiled .wasm), one sample per load.
    pub connect: Option<Summary>,
    /// Entry script requested to .wasm downloaded, the p50 over the later page loads.
    pub wasm_loaded_p50_ms: Option<f64>,
    pub page_loads: usize,
    pub missed_loads: usize,
    /// The roll round trip timed by the caller.
    pub end_to_end: Summary,
    /// The same, timed by the server (warm-up included).
    pub server: Summary,
    /// The page's own roll and chat message, without the module or the server, over the
    /// same number of chat messages.
    pub page_dice: Summary,
    /// Where the module's rolls spent their time in the page (see [`PROBE`]).
    pub phases: Phases,
    pub chromium: String,
}

pub async fn measure(
    binary: &Path,
    module_dir: &Path,
    counts: BrowserCounts,
) -> BenchResult<BrowserFigures> {
    let site = ShimSite::start().await?;
    let outcome = with_site(binary, module_dir, &site, counts).await;
    site.stop().await;
    outcome
}

async fn with_site(
    binary: &Path,
    module_dir: &Path,
    site: &ShimSite,
    counts: BrowserCounts,
) -> BenchResult<BrowserFigures> {
    let args = ["--foundry-origin".to_owned(), site.origin()];
    let server = ServerProcess::gold_box(binary, module_dir, &args).await?;
    let browser = Browser::launch().await?;
    let outcome = in_browser(&server, site, &browser, counts).await;
    browser.close().await;
    outcome
}

async fn in_browser(
    server: &ServerProcess,
    site: &ShimSite,
    browser: &Browser,
    counts: BrowserCounts,
) -> BenchResult<BrowserFigures> {
    let server_url = server.url();
    let url = site.page_url(VERSION, &[("server", &server_url), ("token", TOKEN)]);
    let mut connect = Latencies::new()?;
    let mut wasm_loaded = Latencies::new()?;
    let mut missed_loads = 0;
    let mut connect_cold_ms = None;
    for load in 0..counts.page_loads {
        browser.goto(&url).await?;
        let timing = browser.eval_async(TIME_CONNECT).await?;
        if let Some(error) = timing.get("error").and_then(Value::as_str) {
            return Err(format!("page load: {error}").into());
        }
        if timing["missed"] == true {
            missed_loads += 1;
            continue;
        }
        let connected = timing["connected"].as_f64();
        let module_start = timing["moduleStart"].as_f64();
        let (Some(connected), Some(module_start)) = (connected, module_start) else {
            return Err(format!("no Resource Timing for the module's script: {timing}").into());
        };
        let elapsed_ms = (connected - module_start).max(0.0);
        if load == 0 {
            connect_cold_ms = Some(elapsed_ms);
            continue;
        }
        connect.record(Duration::from_secs_f64(elapsed_ms / 1000.0));
        if let Some(wasm_end) = timing["wasmEnd"].as_f64() {
            wasm_loaded.record(Duration::from_secs_f64(
                (wasm_end - module_start).max(0.0) / 1000.0,
            ));
        }
    }
    let boot_error = browser.eval("return window.__shim.bootError;").await?;
    if let Some(error) = boot_error.as_str() {
        return Err(format!("the fake Foundry page failed to boot: {error}").into());
    }
    let page_dice = page_dice(browser, counts.rolls).await?;
    // A fresh page (an empty chat) for the module's rolls, as for the reference.
    browser.goto(&url).await?;
    browser
        .wait_until(
            r#"game.modules.get("gold-box")?.api?.state() === "connected""#,
            Duration::from_secs(20),
        )
        .await?;
    let messages = browser.eval("return game.messages.size;").await?;
    if messages.as_u64() != Some(0) {
        return Err(format!("the reloaded page's chat is not empty ({messages} messages)").into());
    }
    let client_id = browser
        .eval(r#"return game.modules.get("gold-box").api.clientId();"#)
        .await?
        .as_str()
        .map(str::to_owned)
        .ok_or("the module's api has no client id")?;

    browser.eval(PROBE).await?;
    let caller = RollCaller::connect(server, &client_id).await?;
    let measured = load::run(vec![caller], counts.rolls).await?;
    let metrics = server.metrics().await?;
    let rolls = &metrics.websocket.roll_results;
    let expected = measured.calls;
    if rolls.accepted != expected {
        return Err(format!(
            "the server accepted {} results, {expected} were asked",
            rolls.accepted
        )
        .into());
    }
    let posted = browser
        .eval(r#"return game.messages.contents.filter((m) => m.flags?.["gold-box"]?.rollRequestId).length;"#)
        .await?;
    if posted.as_u64() != Some(expected) {
        return Err(format!("{posted} rolls posted to the page's chat, {expected} asked").into());
    }
    let phases = phases(browser, expected).await?;
    let warm = connect.summary(None);
    Ok(BrowserFigures {
        page_dice,
        phases,
        connect_cold_ms,
        connect: (warm.count > 0).then_some(warm),
        wasm_loaded_p50_ms: (wasm_loaded.summary(None).count > 0)
            .then(|| wasm_loaded.summary(None).p50_ms),
        page_loads: counts.page_loads,
        missed_loads,
        end_to_end: measured.summary(),
        server: Summary::from_figures(
            rolls.accepted,
            rolls.latency_ms.p50,
            rolls.latency_ms.p99,
            rolls.latency_ms.max,
        ),
        chromium: chromium_version(),
    })
}

/// Times the fake page's own `Roll#evaluate` and `Roll#toMessage` (what the module's
/// roll does in the page) in a loop, without the module or any network: the page's share
/// of (d), which grows with the chat since every roll posts a message.
async fn page_dice(browser: &Browser, counts: Counts) -> BenchResult<Summary> {
    let script = format!(
        r#"
        // Each roll starts from a message task, as a WebSocket message would start it, so
        // that the browser's clamping of nested timers (4 ms) does not pile up.
        const fresh = () => new Promise((resolve) => {{
          const channel = new MessageChannel();
          channel.port1.onmessage = () => resolve();
          channel.port2.postMessage(0);
        }});
        const times = [];
        const started = performance.now();
        for (let i = 0; i < {total} && performance.now() - started < {limit_ms}; i++) {{
          await fresh();
          const t = performance.now();
          const roll = new Roll("1d20+5");
          await roll.evaluate();
          await roll.toMessage({{ flavor: "Attack" }});
          times.push(performance.now() - t);
        }}
        return times.slice({warmup});
        "#,
        total = counts.warmup + counts.measured,
        warmup = counts.warmup,
        limit_ms = counts.limit.as_millis(),
    );
    let times = browser.eval_async(&script).await?;
    let mut latencies = Latencies::new()?;
    for ms in times
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
    {
        latencies.record(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    Ok(latencies.summary(None))
}

/// The phases of the module's rolls in the page, each a summary over the rolls the
/// probe saw whole.
#[derive(Debug, Clone)]
pub struct Phases {
    /// `execute_roll` at the socket's handler → `Roll#evaluate` called: the module's
    /// decoding, bookkeeping and storage before the dice.
    pub before_dice: Summary,
    /// `Roll#evaluate` called → `Roll#toMessage` done: Foundry's dice and chat message
    /// (the page's work, as in the reference, with the module's message data).
    pub dice_and_message: Summary,
    /// `Roll#toMessage` done → `roll_result` handed to the socket: the module's work
    /// after the dice (reading the outcome, storing it, encoding the frame).
    pub after_dice: Summary,
    /// `execute_roll` at the handler → `roll_result` sent: the whole roll in the page.
    pub in_page: Summary,
    /// The module's message handler on the other frames (the roll's ack, pongs) while
    /// the roll was in progress or after it, until the next roll.
    pub other_frames: Summary,
    /// The module's own work per roll: before + after the dice + other frames.
    pub module_work: Summary,
    /// Of that, `sessionStorage` writes and removals.
    pub storage: Summary,
    /// How many of the gaps between rolls had an animation frame (the page rendering)
    /// in them, of how many.
    pub gaps_with_frame: (u64, u64),
    /// `roll_result` sent → the next `execute_roll` at the handler: the network, the
    /// server, the caller, and whatever else kept the page's main thread (its rendering).
    pub between_rolls: Summary,
}

/// The last `measured` rolls' phases (the warm-up's are left out, as from every figure).
async fn phases(browser: &Browser, measured: u64) -> BenchResult<Phases> {
    let rolls = browser.eval("return window.__goldBoxProbe.rolls;").await?;
    let frames: Vec<f64> = browser
        .eval("return window.__goldBoxProbe.frames;")
        .await?
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_f64)
        .collect();
    let all = rolls.as_array().map_or(&[][..], Vec::as_slice);
    let skip = all
        .len()
        .saturating_sub(usize::try_from(measured).unwrap_or(usize::MAX));
    let mut before = Latencies::new()?;
    let mut dice = Latencies::new()?;
    let mut after = Latencies::new()?;
    let mut whole = Latencies::new()?;
    let mut other = Latencies::new()?;
    let mut work = Latencies::new()?;
    let mut storage = Latencies::new()?;
    let (mut gaps, mut gaps_with_frame) = (0u64, 0u64);
    let mut between = Latencies::new()?;
    let ms = |value: f64| Duration::from_secs_f64(value.max(0.0) / 1000.0);
    for roll in &all[skip..] {
        let at = |name: &str| roll.get(name).and_then(Value::as_f64);
        let (Some(arrived), Some(evaluate), Some(posted), Some(sent)) =
            (at("arrived"), at("evaluate"), at("posted"), at("sent"))
        else {
            continue;
        };
        before.record(ms(evaluate - arrived));
        dice.record(ms(posted - evaluate));
        after.record(ms(sent - posted));
        whole.record(ms(sent - arrived));
        let other_ms = at("other").unwrap_or(0.0);
        storage.record(ms(at("storage").unwrap_or(0.0)));
        other.record(ms(other_ms));
        work.record(ms((evaluate - arrived) + (sent - posted) + other_ms));
        if let Some(next) = at("next") {
            between.record(ms(next - sent));
            gaps += 1;
            if frames.iter().any(|&at| at > sent && at < next) {
                gaps_with_frame += 1;
            }
        }
    }
    if whole.summary(None).count == 0 {
        return Err(format!("the probe saw no whole roll: {rolls}").into());
    }
    Ok(Phases {
        before_dice: before.summary(None),
        dice_and_message: dice.summary(None),
        after_dice: after.summary(None),
        in_page: whole.summary(None),
        other_frames: other.summary(None),
        module_work: work.summary(None),
        storage: storage.summary(None),
        gaps_with_frame: (gaps_with_frame, gaps),
        between_rolls: between.summary(None),
    })
}

/// `chromium --version`, or "unknown".
fn chromium_version() -> String {
    let chrome = std::env::var("CHROME").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    std::process::Command::new(chrome)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}
