//! End-to-end test harness: the real Gold Box server, headless Chromium driven through
//! chromedriver, and the packaged module loaded into a page that stands in for Foundry.
//!
//! - [`site`] serves `tests/foundry-shim/` at `/` and `dist/gold-box/` at
//!   `/modules/gold-box/`, the way Foundry serves a module.
//! - [`server`] runs `gold-box-server` in-process on a real port.
//! - [`browser`] starts chromedriver and Chromium and drives the page.
//! - [`proxy`] is a TCP proxy between the page and the server that can cut the socket and
//!   records the WebSocket frames the page sent.
//! - [`fake_ai`] is a local OpenAI-compatible endpoint that records what the server sends
//!   the AI (for tests that need to see the AI's input, or script its tool calls).
//! - [`http`] is the tests' own small HTTP client (metrics, manifest, archive).
//! - [`install`] installs a module by manifest URL as Foundry does.
//! - [`page`] reads and drives the module in the page the way a GM would.
//! - [`E2e`] bundles them for one test; [`E2e::finish`] keeps a screenshot and the
//!   page's console in `target/e2e-artifacts/` when the test failed, and tears down.
//!
//! Scenarios return [`TestResult`] instead of panicking (see [`ensure`]) so that a failing
//! test still leaves its artifacts and stops its processes.

pub mod browser;
pub mod fake_ai;
pub mod http;
pub mod install;
pub mod page;
pub mod proxy;
pub mod server;
pub mod site;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

pub use browser::Browser;
pub use proxy::TcpProxy;
pub use server::TestServer;
pub use site::{ShimSite, SiteListener};

/// What every harness function and test returns.
pub type TestResult<T = ()> = Result<T, Box<dyn Error + Send + Sync>>;

/// The Foundry generation the shim page imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoundryVersion {
    V13,
    V14,
}

impl FoundryVersion {
    pub const ALL: [FoundryVersion; 2] = [FoundryVersion::V13, FoundryVersion::V14];

    /// The `v` query value of the shim page.
    pub fn query_value(self) -> &'static str {
        match self {
            FoundryVersion::V13 => "13",
            FoundryVersion::V14 => "14",
        }
    }

    /// A short tag for artifact names: `v13`, `v14`.
    pub fn tag(self) -> &'static str {
        match self {
            FoundryVersion::V13 => "v13",
            FoundryVersion::V14 => "v14",
        }
    }
}

/// The workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// `dist/`, the directory `cargo xtask package` writes (it holds `gold-box/`).
pub fn dist_dir() -> PathBuf {
    workspace_root().join("dist")
}

/// `dist/gold-box/`, the packaged module, or the error that says how to make it.
pub fn packaged_module_dir() -> TestResult<PathBuf> {
    let dir = dist_dir().join("gold-box");
    if dir.join("module.json").is_file() {
        Ok(dir)
    } else {
        Err(format!(
            "dist/gold-box not found: run `cargo xtask package` first (looked in {})",
            dir.display()
        )
        .into())
    }
}

/// `tests/foundry-shim/`, the Foundry stand-in page.
pub fn shim_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("foundry-shim")
}

/// `target/e2e-artifacts/` (under `CARGO_TARGET_DIR` when that is set).
pub fn artifacts_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("e2e-artifacts"),
        None => workspace_root().join("target").join("e2e-artifacts"),
    }
}

/// A directory removed on drop.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// A fresh, empty directory under the system temporary directory.
    pub fn new(prefix: &str) -> TestResult<TempDir> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(TempDir { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// One end-to-end test's world: the server, the page's web server and the browser, and
/// for some tests a proxy between the page and the server.
#[derive(Debug)]
pub struct E2e {
    /// The artifact name for this test.
    pub name: String,
    pub site: ShimSite,
    pub server: TestServer,
    pub browser: Browser,
    /// When set, the page reaches the server through it.
    pub proxy: Option<TcpProxy>,
}

impl E2e {
    /// Starts the shim's web server, the real server (allowing the shim's origin, with
    /// [`server::TEST_TOKEN`]) and a browser.
    pub async fn start(name: &str) -> TestResult<E2e> {
        let site = ShimSite::start().await?;
        let server = TestServer::start(&site.origin()).await?;
        E2e::assemble(name, site, server, None).await
    }

    /// Like [`E2e::start`], with a [`TcpProxy`] between the page and the server. The
    /// server's public URL is the proxy's, so that it accepts the proxy's `Host`.
    pub async fn start_behind_proxy(name: &str) -> TestResult<E2e> {
        E2e::start_behind_proxy_with(name, &[]).await
    }

    /// [`E2e::start_behind_proxy`] with more server options (e.g. those of a
    /// [`fake_ai::FakeAi`]): for tests that read what the page sent the server
    /// ([`TcpProxy::page_frames`]).
    pub async fn start_behind_proxy_with(name: &str, server_args: &[String]) -> TestResult<E2e> {
        let site = ShimSite::start().await?;
        let proxy = TcpProxy::start().await?;
        let public_url = proxy.url();
        let mut args = vec!["--public-url", public_url.as_str()];
        args.extend(server_args.iter().map(String::as_str));
        let server = TestServer::start_with(&site.origin(), &args).await?;
        proxy.set_target(server.addr());
        E2e::assemble(name, site, server, Some(proxy)).await
    }

    /// Launches the browser for an already running site and server.
    pub async fn assemble(
        name: &str,
        site: ShimSite,
        server: TestServer,
        proxy: Option<TcpProxy>,
    ) -> TestResult<E2e> {
        let browser = match Browser::launch().await {
            Ok(browser) => browser,
            Err(error) => {
                server.shutdown().await;
                site.stop().await;
                return Err(error);
            }
        };
        Ok(E2e {
            name: name.to_owned(),
            site,
            server,
            browser,
            proxy,
        })
    }

    /// The server URL the page is given: the proxy's when there is one.
    pub fn server_url(&self) -> String {
        match &self.proxy {
            Some(proxy) => proxy.url(),
            None => self.server.url(),
        }
    }

    /// Like [`E2e::start`], with more server options (e.g. those of a
    /// [`fake_ai::FakeAi`]).
    pub async fn start_with(name: &str, server_args: &[String]) -> TestResult<E2e> {
        let site = ShimSite::start().await?;
        let args: Vec<&str> = server_args.iter().map(String::as_str).collect();
        let server = TestServer::start_with(&site.origin(), &args).await?;
        E2e::assemble(name, site, server, None).await
    }

    /// Opens the shim page for `version`, connected to this test's server with `token`.
    /// Waits until the page has booted (Foundry's `ready` has run).
    pub async fn open_foundry(&self, version: FoundryVersion, token: &str) -> TestResult {
        self.open_foundry_with(version, token, &[]).await
    }

    /// [`E2e::open_foundry`] with more of the shim's query options (see
    /// `tests/foundry-shim/shim/main.js`), e.g. `("controlToken", "1")`.
    pub async fn open_foundry_with(
        &self,
        version: FoundryVersion,
        token: &str,
        options: &[(&str, &str)],
    ) -> TestResult {
        let server_url = self.server_url();
        let mut query = vec![("server", server_url.as_str()), ("token", token)];
        query.extend_from_slice(options);
        let url = self.site.page_url(version, &query);
        self.browser.open_shim(&url).await
    }

    /// Ends the test: on failure keeps a screenshot and the page's console and errors in
    /// `target/e2e-artifacts/<name>.*`; then tears everything down and returns `outcome`.
    pub async fn finish(self, outcome: TestResult) -> TestResult {
        if let Err(error) = &outcome {
            eprintln!("{}: failed: {error}", self.name);
            self.browser.save_failure_artifacts(&self.name).await;
        }
        let E2e {
            site,
            server,
            browser,
            proxy,
            ..
        } = self;
        browser.close().await;
        if let Some(proxy) = proxy {
            proxy.stop();
        }
        server.shutdown().await;
        site.stop().await;
        outcome
    }
}

/// `Err(message)` unless `condition` holds: an assertion that returns instead of
/// panicking, so a failing test still saves its artifacts and tears down.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> TestResult {
    if condition {
        Ok(())
    } else {
        Err(message().into())
    }
}
