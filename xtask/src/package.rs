//! Packaging: the wasm core built for release (`cargo build --target
//! wasm32-unknown-unknown`, then `wasm-bindgen --target web`, then `wasm-opt -Oz`),
//! assembled with the JS module and the manifest into `dist/gold-box/`, and zipped into
//! `dist/gold-box.zip` the way Foundry installs modules (one top-level `gold-box/` folder).

use crate::process::{Out, cargo, run_cmd, step};
use crate::tools::{self, WASM_TARGET};
use serde_json::Value;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directories of module-js copied into the package.
const JS_DIRS: [&str; 3] = ["scripts", "styles", "lang"];
/// The wasm-bindgen output name (`gold_box_wasm.js`, `gold_box_wasm_bg.wasm`).
const WASM_NAME: &str = "gold_box_wasm";
/// The cargo profile the wasm core is built with (see the workspace Cargo.toml).
const WASM_PROFILE: &str = "wasm-release";
/// wasm-opt's features: those rustc enables by default for wasm32-unknown-unknown (the
/// .wasm carries no `target_features` section after wasm-bindgen, so they are named).
pub(crate) const WASM_OPT_FEATURES: [&str; 6] = [
    "--enable-bulk-memory",
    "--enable-nontrapping-float-to-int",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-reference-types",
    "--enable-multivalue",
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The tools packaging runs: `xtask-bindgen` (wasm-bindgen's JS glue generation at the
/// crate's version), and `wasm-opt` when it could be installed.
#[derive(Debug, Clone)]
pub struct WasmTools {
    pub bindgen: PathBuf,
    pub wasm_opt: Option<PathBuf>,
}

/// Installs what packaging needs, one after another, on the terminal.
pub fn ensure_tools() -> Result<WasmTools, String> {
    let out = Out::Terminal;
    tools::ensure_wasm_target(&out)?;
    let bindgen = tools::build_bindgen(&out)?;
    let wasm_opt = tools::ensure_wasm_opt(&out);
    Ok(WasmTools { bindgen, wasm_opt })
}

/// Builds and assembles the module; returns the `dist` directory.
pub fn package(tools: &WasmTools) -> Result<PathBuf, String> {
    build_wasm(&Out::Terminal)?;
    assemble(tools)
}

/// `cargo build` of the wasm core for release.
pub fn build_wasm(out: &Out) -> Result<(), String> {
    out.step(&format!(
        "building the wasm core (cargo build --target {WASM_TARGET} --profile {WASM_PROFILE})"
    ));
    let mut build = Command::new(cargo());
    build.args([
        "build",
        "--package",
        "gold-box-wasm",
        "--lib",
        "--target",
        WASM_TARGET,
        "--profile",
        WASM_PROFILE,
    ]);
    if let Some(remap) = registry_remap() {
        build.env(WASM_RUSTFLAGS, remap);
    }
    run_cmd(&mut build, out)
}

/// The wasm32 target's rustflags (cargo's environment form of `target.<triple>.rustflags`).
const WASM_RUSTFLAGS: &str = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";

/// The place of each panic in a crate from the registry is compiled into the .wasm with
/// its absolute path, cargo's home included (`/root/.cargo/registry/src/index.crates.io-
/// 1949cf8c6b5b557f/talc-5.1.1/src/...`), so the .wasm's size depended on where cargo's
/// home is. Each registry's folder is remapped to nothing (`talc-5.1.1/src/...`), so where
/// cargo's home is no longer changes the .wasm, which is a few hundred bytes smaller
/// (docs/BENCHMARKS.md). The workspace's own paths are relative already. Rustflags of the
/// developer's own for the wasm32 target (this variable, or `RUSTFLAGS`, which takes
/// precedence) are left alone, as is a cargo home whose path has a space (the variable
/// is split at spaces).
fn registry_remap() -> Option<String> {
    if std::env::var_os(WASM_RUSTFLAGS).is_some() || std::env::var_os("RUSTFLAGS").is_some() {
        return None;
    }
    let cargo_home = tools::dir_from_env_or_home("CARGO_HOME", ".cargo")?;
    let mut flags = Vec::new();
    for registry in fs::read_dir(cargo_home.join("registry").join("src")).ok()? {
        let path = registry.ok()?.path();
        let path = path.to_str()?;
        if path.contains(char::is_whitespace) {
            return None;
        }
        flags.push(format!("--remap-path-prefix={path}/="));
    }
    Some(flags.join(" "))
}

/// Holds xtask-bindgen to its promise: for the .wasm [`build_wasm`] wrote, it writes the
/// same files, byte for byte, as `wasm-bindgen` (the CLI at the same version) with the
/// flags it stands for. The test command runs this, since it installs the CLI anyway.
pub fn check_bindgen_matches_cli(tools: &WasmTools, cli: &Path) -> Result<(), String> {
    step("checking that xtask-bindgen writes what the wasm-bindgen CLI writes");
    let scratch = workspace_root().join("target/bindgen-check");
    clear_dir(&scratch)?;
    let (ours, theirs) = (scratch.join("xtask-bindgen"), scratch.join("cli"));
    run_bindgen(tools, &ours)?;
    run_cmd(
        Command::new(cli)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--out-name",
                WASM_NAME,
                "--remove-name-section",
                "--remove-producers-section",
            ])
            .arg("--out-dir")
            .arg(&theirs)
            .arg(built_wasm()),
        &Out::Terminal,
    )?;
    let names = |dir: &Path| -> Result<Vec<String>, String> {
        let mut names = fs::read_dir(dir)
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        names.sort();
        Ok(names)
    };
    let (files, our_files) = (names(&theirs)?, names(&ours)?);
    if our_files != files {
        return Err(format!(
            "xtask-bindgen wrote {our_files:?}, the wasm-bindgen CLI {files:?}"
        ));
    }
    for file in &files {
        let read =
            |dir: &Path| fs::read(dir.join(file)).map_err(|e| format!("cannot read {file}: {e}"));
        if read(&ours)? != read(&theirs)? {
            return Err(format!(
                "xtask-bindgen's {file} differs from the wasm-bindgen CLI's (compare {} with {})",
                ours.join(file).display(),
                theirs.join(file).display()
            ));
        }
    }
    println!("xtask: the same {} files, byte for byte", files.len());
    Ok(())
}

/// xtask-bindgen on the .wasm [`build_wasm`] wrote, its output into `out_dir`: what
/// `wasm-bindgen --target web --no-typescript --remove-name-section
/// --remove-producers-section` writes (xtask/bindgen/src/main.rs).
fn run_bindgen(tools: &WasmTools, out_dir: &Path) -> Result<(), String> {
    run_cmd(
        Command::new(&tools.bindgen)
            .arg(built_wasm())
            .arg(out_dir)
            .arg(WASM_NAME),
        &Out::Terminal,
    )
}

/// Removes `dir` and what it holds, if it is there.
fn clear_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// The .wasm that [`build_wasm`] wrote.
fn built_wasm() -> PathBuf {
    workspace_root()
        .join("target")
        .join(WASM_TARGET)
        .join(WASM_PROFILE)
        .join(format!("{WASM_NAME}.wasm"))
}

/// wasm-bindgen, wasm-opt, and the module's folder and zip from the built core.
pub fn assemble(tools: &WasmTools) -> Result<PathBuf, String> {
    let root = workspace_root();
    let manifest_text = fs::read_to_string(root.join("module.json"))
        .map_err(|e| format!("cannot read module.json: {e}"))?;
    let manifest: Value = serde_json::from_str(&manifest_text)
        .map_err(|e| format!("module.json is not valid JSON: {e}"))?;
    let id = manifest["id"]
        .as_str()
        .ok_or("module.json has no `id`")?
        .to_owned();
    let version = manifest["version"]
        .as_str()
        .ok_or("module.json has no `version`")?
        .to_owned();

    step("generating the JS bindings (xtask-bindgen: wasm-bindgen --target web)");
    let pkg = root.join("target/wasm-pkg");
    clear_dir(&pkg)?;
    run_bindgen(tools, &pkg)?;
    let wasm = pkg.join(format!("{WASM_NAME}_bg.wasm"));
    if let Some(wasm_opt) = &tools.wasm_opt {
        optimize(wasm_opt, &wasm)?;
        step("short import and export names (wasm-opt --minify-imports-and-exports-and-modules)");
        crate::minify::minify_names(wasm_opt, &wasm, &pkg.join(format!("{WASM_NAME}.js")))?;
        println!(
            "xtask: names minified: {} bytes",
            fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0)
        );
    }

    let dist = root.join("dist");
    let module_dir = dist.join(&id);
    step(&format!(
        "assembling {id} {version} in {}",
        module_dir.display()
    ));
    clear_dir(&module_dir)?;
    fs::create_dir_all(module_dir.join("wasm")).map_err(|e| e.to_string())?;
    copy(&root.join("module.json"), &module_dir.join("module.json"))?;
    copy(&root.join("LICENSE"), &module_dir.join("LICENSE"))?;
    for dir in JS_DIRS {
        copy_dir(&root.join("module-js").join(dir), &module_dir.join(dir))?;
    }
    for file in [format!("{WASM_NAME}.js"), format!("{WASM_NAME}_bg.wasm")] {
        copy(&pkg.join(&file), &module_dir.join("wasm").join(&file))?;
    }
    check_manifest_paths(&manifest, &module_dir)?;

    let archive = dist.join(format!("{id}.zip"));
    zip_dir(&module_dir, &id, &archive)?;
    let (raw, gzipped) = wasm_sizes(&module_dir.join("wasm").join(format!("{WASM_NAME}_bg.wasm")))?;
    println!(
        "xtask: packaged {id} {version}: {} ({} bytes); .wasm {raw} bytes raw, {gzipped} bytes gzipped",
        archive.display(),
        fs::metadata(&archive).map(|m| m.len()).unwrap_or(0)
    );
    Ok(dist)
}

/// Shrinks the .wasm in place with `wasm-opt -Oz`. Functions with one caller are inlined
/// only when small: inlining them all makes the .wasm 2 % smaller raw but 11 % larger
/// gzipped (measured; see docs/BENCHMARKS.md).
fn optimize(wasm_opt: &Path, wasm: &Path) -> Result<(), String> {
    step("shrinking the .wasm (wasm-opt -Oz)");
    let before = fs::metadata(wasm).map(|m| m.len()).unwrap_or(0);
    run_cmd(
        Command::new(wasm_opt)
            .arg(wasm)
            .args(["-Oz", "--one-caller-inline-max-function-size=20"])
            .args(["--strip-debug", "--strip-producers"])
            .args(WASM_OPT_FEATURES)
            .arg("-o")
            .arg(wasm),
        &Out::Terminal,
    )?;
    let after = fs::metadata(wasm).map(|m| m.len()).unwrap_or(0);
    println!("xtask: wasm-opt: {before} -> {after} bytes");
    Ok(())
}

/// Every file the manifest names must be in the package.
fn check_manifest_paths(manifest: &Value, module_dir: &Path) -> Result<(), String> {
    let mut paths: Vec<&str> = Vec::new();
    for key in ["esmodules", "styles"] {
        paths.extend(
            manifest[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str),
        );
    }
    paths.extend(
        manifest["languages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|language| language["path"].as_str()),
    );
    for path in paths {
        if !module_dir.join(path).is_file() {
            return Err(format!(
                "module.json names `{path}`, which is not in the package"
            ));
        }
    }
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<(), String> {
    fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))
}

fn copy_dir(from: &Path, to: &Path) -> Result<(), String> {
    fs::create_dir_all(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries = fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            copy(&path, &target)?;
        }
    }
    Ok(())
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn zip_dir(dir: &Path, prefix: &str, archive: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    files_under(dir, &mut files)?;
    files.sort();
    let file = fs::File::create(archive)
        .map_err(|e| format!("cannot create {}: {e}", archive.display()))?;
    let mut writer = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for path in files {
        let relative = path.strip_prefix(dir).map_err(|e| e.to_string())?;
        let name = format!("{prefix}/{}", relative.to_string_lossy().replace('\\', "/"));
        writer
            .start_file(name, options)
            .map_err(|e| e.to_string())?;
        let mut contents = Vec::new();
        fs::File::open(&path)
            .and_then(|mut f| f.read_to_end(&mut contents))
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        writer.write_all(&contents).map_err(|e| e.to_string())?;
    }
    writer.finish().map_err(|e| e.to_string())?;
    Ok(())
}

/// The .wasm's size raw and gzipped (level 9), as a browser would download it.
pub fn wasm_sizes(wasm: &Path) -> Result<(u64, u64), String> {
    let bytes = fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bytes).map_err(|e| e.to_string())?;
    let gzipped = encoder.finish().map_err(|e| e.to_string())?;
    Ok((bytes.len() as u64, gzipped.len() as u64))
}
