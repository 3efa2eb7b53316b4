//! A GM installs Gold Box by manifest URL, as Foundry's "Install Module" does it: the
//! server's `/module.json` says which Foundry versions it fits and where to download it,
//! `/module.zip` unpacks into the modules directory, and the module loaded from those
//! unpacked files (not from `dist/`) starts and connects in Foundry v13 and v14.

use gold_box_e2e::install::{Installed, install_by_manifest_url};
use gold_box_e2e::page::CONNECT_TIMEOUT;
use gold_box_e2e::server::TEST_TOKEN;
use gold_box_e2e::{E2e, FoundryVersion, SiteListener, TempDir, TestResult, TestServer, ensure};
use serde_json::Value;

/// The manifest the server hands out fits Foundry 13 to 14 (verified on the build the
/// end-to-end page models) and points back at the server.
fn check_manifest(installed: &Installed, server_url: &str) -> TestResult {
    let manifest = &installed.manifest;
    ensure(manifest["id"] == "gold-box", || {
        format!("the manifest is not Gold Box's: {manifest}")
    })?;
    let compatibility = &manifest["compatibility"];
    ensure(
        compatibility["minimum"] == "13" && compatibility["verified"] == "14.371",
        || {
            format!(
                "the manifest's compatibility is not minimum 13, verified 14.371: {compatibility}"
            )
        },
    )?;
    let manifest_url = format!("{server_url}/module.json");
    let download_url = format!("{server_url}/module.zip");
    ensure(
        manifest["manifest"] == manifest_url.as_str()
            && manifest["download"] == download_url.as_str(),
        || format!("the manifest's URLs do not point at the server {server_url}: {manifest}"),
    )?;
    ensure(
        installed.archive_content_type.as_deref() == Some("application/zip"),
        || {
            format!(
                "/module.zip is served as {:?}",
                installed.archive_content_type
            )
        },
    )?;
    Ok(())
}

/// The unpacked module is complete: its own manifest is the served one (Foundry checks it
/// for updates) and every file the manifest names, and the wasm core, is there.
fn check_unpacked(installed: &Installed) -> TestResult {
    let entries = &installed.archive_entries;
    ensure(
        entries.iter().all(|name| name.starts_with("gold-box/")),
        || format!("the archive does not keep the module under gold-box/: {entries:?}"),
    )?;
    let inner: Value = serde_json::from_slice(&std::fs::read(installed.dir.join("module.json"))?)?;
    for key in ["id", "version", "manifest", "download", "compatibility"] {
        ensure(inner[key] == installed.manifest[key], || {
            format!(
                "the archive's module.json differs from the served one in {key}: {} vs {}",
                inner[key], installed.manifest[key]
            )
        })?;
    }
    let mut files: Vec<String> = Vec::new();
    for key in ["esmodules", "styles"] {
        for path in inner[key].as_array().cloned().unwrap_or_default() {
            files.push(path.as_str().unwrap_or_default().to_owned());
        }
    }
    for language in inner["languages"].as_array().cloned().unwrap_or_default() {
        files.push(language["path"].as_str().unwrap_or_default().to_owned());
    }
    files.push("wasm/gold_box_wasm.js".to_owned());
    files.push("wasm/gold_box_wasm_bg.wasm".to_owned());
    for file in &files {
        ensure(
            !file.is_empty() && installed.dir.join(file).is_file(),
            || format!("the unpacked module lacks {file:?} (archive: {entries:?})"),
        )?;
    }
    Ok(())
}

async fn installed_module_loads_and_connects(
    version: FoundryVersion,
    listener: SiteListener,
    server: TestServer,
) -> TestResult {
    let modules_dir = TempDir::new("gold-box-e2e-modules")?;
    let server_url = server.url();
    let installed =
        match install_by_manifest_url(&format!("{server_url}/module.json"), modules_dir.path())
            .await
        {
            Ok(installed) => installed,
            Err(error) => {
                server.shutdown().await;
                return Err(error);
            }
        };
    let checked = check_manifest(&installed, &server_url).and_then(|()| check_unpacked(&installed));
    let site = match checked.and_then(|()| listener.serve(&installed.dir)) {
        Ok(site) => site,
        Err(error) => {
            server.shutdown().await;
            return Err(error);
        }
    };
    let env = E2e::assemble(
        &format!("install_by_manifest_{}", version.tag()),
        site,
        server,
        None,
    )
    .await?;
    let outcome = load_installed_module(&env, version, &installed).await;
    env.finish(outcome).await
}

async fn load_installed_module(
    env: &E2e,
    version: FoundryVersion,
    installed: &Installed,
) -> TestResult {
    env.open_foundry(version, TEST_TOKEN).await?;
    env.wait_until_ready(CONNECT_TIMEOUT).await?;
    // Foundry read the unpacked manifest (its URLs point at the server, unlike dist/'s)
    // and the core came from the unpacked files.
    let loaded = env
        .browser
        .eval(
            r#"const module = game.modules.get("gold-box");
            return {
              download: module.manifest.download,
              version: module.version,
              wasm: performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)
                .filter((p) => p.startsWith("/modules/gold-box/wasm/")),
            };"#,
        )
        .await?;
    ensure(
        loaded["download"] == installed.manifest["download"]
            && loaded["version"] == installed.manifest["version"],
        || format!("the page did not load the installed manifest: {loaded}"),
    )?;
    let wasm = loaded["wasm"].as_array().cloned().unwrap_or_default();
    ensure(
        wasm.iter()
            .any(|p| p == "/modules/gold-box/wasm/gold_box_wasm_bg.wasm"),
        || format!("the wasm core was not loaded from the installed module: {loaded}"),
    )?;
    env.assert_no_page_errors().await
}

async fn run(version: FoundryVersion) -> TestResult {
    let listener = SiteListener::bind().await?;
    let server = TestServer::start(&listener.origin()).await?;
    installed_module_loads_and_connects(version, listener, server).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v14_a_module_installed_by_manifest_url_loads_and_connects() -> TestResult {
    run(FoundryVersion::V14).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v13_a_module_installed_by_manifest_url_loads_and_connects() -> TestResult {
    run(FoundryVersion::V13).await
}
