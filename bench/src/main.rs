//! `gold-box-bench`: the measurements behind `cargo xtask bench`.
//!
//! One run measures, on loopback and against the release server built with the
//! `load-testing` feature, the WebSocket echo floor of this machine ([`echo`]) and then
//! the figures of issue 7: (a)/(b) the roll round trip answered over the socket or over
//! HTTP ([`rolls`]), (c) pings while an AI turn is busy ([`busy`]), (d)/(f) the module in
//! headless Chromium ([`browser`]), (e) the server's memory around a flood of requests
//! ([`memory`]) and around clients that come and go ([`churn`]). [`report`] prints the tables and writes `docs/BENCHMARKS.md`.
//!
//! Every load is bounded in count and time: each group has fixed counts, every wait has
//! a timeout, the whole run has [`RUN_TIMEOUT`], and every process it starts is stopped
//! when its owner is dropped. `cargo xtask bench` builds everything and passes the paths:
//!
//! ```text
//! gold-box-bench --server target/bench/gold-box-server --module-dir dist \
//!     --wasm-raw BYTES --wasm-gzipped BYTES [--report docs/BENCHMARKS.md] [--quick] \
//!     [--allocator NAME] [--compare NAME=PATH]... [--only memory|churn|browser]
//! ```

mod browser;
mod busy;
mod churn;
mod echo;
mod http;
mod load;
mod machine;
mod memory;
mod native;
mod report;
mod rolls;
mod server;
mod stats;

use load::Counts;
use native::Transport;
use std::error::Error;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// What every fallible step returns.
pub type BenchResult<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// The whole run stops with an error after this long (the memory group alone, with three
/// builds of five floods each, takes about ten minutes).
const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Concurrent clients for the "many clients" figures.
const CLIENTS: usize = 32;

const USAGE: &str = "\
usage: gold-box-bench --server PATH --module-dir DIR --wasm-raw BYTES --wasm-gzipped BYTES
                      [--report PATH] [--command TEXT] [--quick] [--allocator NAME]
                      [--compare NAME=PATH]... [--only memory|churn|browser]
       gold-box-bench echo-server

  --server        the gold-box-server binary, built with --features load-testing
  --module-dir    the dist/ directory holding the packaged gold-box/
  --wasm-raw      the release .wasm's size in bytes, and --wasm-gzipped gzipped (not
                  needed with --only memory or browser)
  --report        where to write the Markdown report (a --quick run never writes one)
  --command       the command named in the report (default: cargo xtask bench)
  --quick         reduced counts, for trying the benchmark out
  --allocator     the global allocator --server was built with (default: jemalloc)
  --compare       another build of the server, with the allocator NAME, measured in the
                  memory group only, beside --server (repeatable)
  --only memory   only the memory group; with --report, its section of the report is
                  replaced and the rest of the file is kept
  --only churn    only the clients that come and go of the memory group, each build,
                  printed; no report is written (for repeated readings)
  --only browser  only the browser group (d, f), printed; no report is written
";

/// The command line.
#[derive(Debug)]
struct Options {
    server: PathBuf,
    module_dir: PathBuf,
    wasm_raw: u64,
    wasm_gzipped: u64,
    report: Option<PathBuf>,
    command: String,
    quick: bool,
    /// `--server` first, then every `--compare`.
    builds: Vec<memory::Build>,
    only_memory: bool,
    only_churn: bool,
    only_browser: bool,
}

impl Options {
    fn parse(args: &[String]) -> Result<Options, String> {
        let mut server = None;
        let mut module_dir = None;
        let mut wasm_raw = None;
        let mut wasm_gzipped = None;
        let mut report = None;
        let mut command = "cargo xtask bench".to_owned();
        let mut quick = false;
        let mut allocator = "jemalloc".to_owned();
        let mut compare = Vec::new();
        let mut only_memory = false;
        let mut only_churn = false;
        let mut only_browser = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || {
                args.next()
                    .cloned()
                    .ok_or_else(|| format!("{arg} needs a value"))
            };
            let bytes = |text: String| {
                text.parse::<u64>()
                    .map_err(|_| format!("{arg} takes a number of bytes, not {text:?}"))
            };
            match arg.as_str() {
                "--server" => server = Some(PathBuf::from(value()?)),
                "--module-dir" => module_dir = Some(PathBuf::from(value()?)),
                "--wasm-raw" => wasm_raw = Some(bytes(value()?)?),
                "--wasm-gzipped" => wasm_gzipped = Some(bytes(value()?)?),
                "--report" => report = Some(PathBuf::from(value()?)),
                "--command" => command = value()?,
                "--quick" => quick = true,
                "--allocator" => allocator = value()?,
                "--compare" => {
                    let spec = value()?;
                    let (name, path) = spec
                        .split_once('=')
                        .ok_or_else(|| format!("--compare takes NAME=PATH, not {spec:?}"))?;
                    compare.push(memory::Build {
                        allocator: name.to_owned(),
                        binary: PathBuf::from(path),
                    });
                }
                "--only" => match value()?.as_str() {
                    "memory" => only_memory = true,
                    "churn" => only_churn = true,
                    "browser" => only_browser = true,
                    group => {
                        return Err(format!(
                            "--only takes `memory`, `churn` or `browser`, not {group:?}"
                        ));
                    }
                },
                other => return Err(format!("unknown option {other}")),
            }
        }
        let server: PathBuf = server.ok_or("--server is required")?;
        let mut builds = vec![memory::Build {
            allocator,
            binary: server.clone(),
        }];
        builds.extend(compare);
        Ok(Options {
            server,
            module_dir: module_dir.ok_or("--module-dir is required")?,
            // The memory, churn or browser group alone reports no sizes.
            wasm_raw: wasm_raw
                .or((only_memory || only_churn || only_browser).then_some(0))
                .ok_or("--wasm-raw is required")?,
            wasm_gzipped: wasm_gzipped
                .or((only_memory || only_churn || only_browser).then_some(0))
                .ok_or("--wasm-gzipped is required")?,
            report,
            command,
            quick,
            builds,
            only_memory,
            only_churn,
            only_browser,
        })
    }
}

/// The counts of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    one: Counts,
    many: Counts,
    pings: Counts,
    browser: browser::BrowserCounts,
    flood: memory::Flood,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        let scale = if quick { 10 } else { 1 };
        let counts = |warmup: u64, measured: u64, limit_s: u64| Counts {
            warmup: warmup / scale,
            measured: measured / scale,
            limit: Duration::from_secs(limit_s / scale),
        };
        Plan {
            one: counts(500, 5_000, 20),
            many: counts(50, 500, 20),
            pings: counts(200, 2_000, 10),
            browser: browser::BrowserCounts {
                page_loads: 11,
                rolls: Counts {
                    warmup: 20,
                    measured: 300 / scale,
                    limit: Duration::from_secs(20 / scale),
                },
            },
            flood: memory::Flood {
                clients: CLIENTS,
                requests: 100_000 / scale,
                timeout_every: 10,
                floods: if quick {
                    memory::QUICK_FLOODS
                } else {
                    memory::FLOODS
                },
                churn_clients: if quick {
                    churn::QUICK_CHURN_CLIENTS
                } else {
                    churn::CHURN_CLIENTS
                },
            },
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(echo::SUBCOMMAND) {
        return echo::serve_main();
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match Options::parse(&args) {
        Ok(options) => options,
        Err(error) => {
            eprint!("gold-box-bench: {error}\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("gold-box-bench: cannot start tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        tokio::time::timeout(RUN_TIMEOUT, run(&options))
            .await
            .unwrap_or_else(|_| Err(format!("the run took longer than {RUN_TIMEOUT:?}").into()))
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gold-box-bench: error: {error}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn step(text: &str) {
    println!("bench: {text}");
}

async fn run(options: &Options) -> BenchResult {
    let started = Instant::now();
    let plan = Plan::new(options.quick);
    let (binary, dist) = (&options.server, &options.module_dir);
    let machine = machine::Machine::describe();
    let date = machine::utc_now();
    let load_start = machine::load_average();

    if options.only_memory {
        step(
            "(e) server memory around repeated floods of roll requests and clients that come and go, each build in turn",
        );
        let allocators = memory::measure_builds(&options.builds, dist, plan.flood).await?;
        let comparison = report::MemoryComparison {
            date,
            command: options.command.clone(),
            load_start,
            load_end: machine::load_average(),
            quick: options.quick,
            whole_run: false,
            allocators,
        };
        let section = comparison.markdown();
        println!("\n{section}");
        match (&options.report, options.quick) {
            (Some(path), false) => {
                report::replace_section(path, &section)?;
                step(&format!(
                    "its section of {} replaced; the rest of the file is kept",
                    path.display()
                ));
            }
            (Some(path), true) => step(&format!(
                "a --quick run does not write {}; run without --quick for the reference figures",
                path.display()
            )),
            (None, _) => {}
        }
        return Ok(());
    }

    if options.only_churn {
        step("(e) server memory around clients that come and go, each build in turn");
        for build in &options.builds {
            let churn = churn::measure(&build.binary, dist, plan.flood.churn_clients).await?;
            println!("\n{}", report::churn_summary(&build.allocator, &churn));
        }
        return Ok(());
    }

    if options.only_browser {
        step("(d, f) the module in headless Chromium");
        let browser = browser::measure(binary, dist, plan.browser).await?;
        println!("\n{}", report::browser_table(&browser));
        return Ok(());
    }

    step("floor: tokio-tungstenite echo server");
    let echo_server = echo::start().await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let echo_idle_rss = echo_server.rss_bytes()?;
    let floor_one = echo::measure(&echo_server, 1, plan.one).await?.summary();
    let floor_many = echo::measure(&echo_server, CLIENTS, plan.many)
        .await?
        .summary();
    drop(echo_server);

    step("(c) ping while an AI turn is busy, with idle references");
    let busy = busy::measure(binary, dist, plan.pings).await?;

    step("(a) roll round trip over the WebSocket");
    let none: &[String] = &[];
    let ws_one = rolls::measure(binary, dist, 1, Transport::WebSocket, plan.one, none).await?;
    let ws_many =
        rolls::measure(binary, dist, CLIENTS, Transport::WebSocket, plan.many, none).await?;
    step("(b) roll round trip through POST /api/roll-result");
    let http_one = rolls::measure(binary, dist, 1, Transport::Http, plan.one, none).await?;
    let http_many = rolls::measure(binary, dist, CLIENTS, Transport::Http, plan.many, none).await?;

    step("(d, f) the module in headless Chromium");
    let browser = browser::measure(binary, dist, plan.browser).await?;

    step(
        "(e) server memory around repeated floods of roll requests and clients that come and go, each build in turn",
    );
    let allocators = memory::measure_builds(&options.builds, dist, plan.flood).await?;
    let load_end = machine::load_average();

    let results = report::Results {
        machine,
        date: date.clone(),
        load_start: load_start.clone(),
        load_end: load_end.clone(),
        command: options.command.clone(),
        quick: options.quick,
        duration: started.elapsed(),
        clients: CLIENTS,
        floor_one,
        floor_many,
        echo_idle_rss,
        busy,
        ws_one,
        ws_many,
        http_one,
        http_many,
        browser,
        memory: allocators[0].clone(),
        comparison: report::MemoryComparison {
            date,
            command: options.command.clone(),
            load_start,
            load_end,
            quick: options.quick,
            whole_run: true,
            allocators,
        },
        wasm_raw: options.wasm_raw,
        wasm_gzipped: options.wasm_gzipped,
    };
    let markdown = results.markdown();
    println!("\n{markdown}");
    match (&options.report, options.quick) {
        (Some(path), false) => {
            std::fs::write(path, &markdown)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            step(&format!("report written to {}", path.display()));
        }
        (Some(path), true) => step(&format!(
            "a --quick run does not write {}; run without --quick for the reference figures",
            path.display()
        )),
        (None, _) => {}
    }
    Ok(())
}
