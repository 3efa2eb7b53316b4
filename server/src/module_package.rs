//! The Foundry module as this server hands it out, so that a GM can install it by
//! manifest URL: `module.json` with its `manifest` and `download` URLs pointing at this
//! server, and a zip of the packaged module whose own `module.json` says the same (Foundry
//! keeps the manifest inside the archive and checks it for updates).
//!
//! Both are built once at start-up from the directory `cargo xtask package` writes.

use serde_json::Value;
use std::io::{self, Cursor, Write};
use std::path::{Path, PathBuf};

/// The module's id, and the name of its directory inside the module directory.
pub const MODULE_ID: &str = "gold-box";

/// The packaged module, ready to serve.
#[derive(Debug, Clone)]
pub struct ModulePackage {
    /// `module.json`, URLs rewritten.
    pub manifest: Vec<u8>,
    /// The zip archive with the rewritten `module.json` inside.
    pub archive: Vec<u8>,
    /// The module version, from `module.json`.
    pub version: String,
}

impl ModulePackage {
    /// Reads `<module_dir>/gold-box/`, rewrites its manifest for `public_url` and zips it.
    pub fn load(module_dir: &Path, public_url: &str) -> io::Result<ModulePackage> {
        let root = module_dir.join(MODULE_ID);
        let manifest_path = root.join("module.json");
        let raw = std::fs::read(&manifest_path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", manifest_path.display())))?;
        let mut manifest: Value = serde_json::from_slice(&raw).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", manifest_path.display()),
            )
        })?;
        let public_url = public_url.trim_end_matches('/');
        let object = manifest.as_object_mut().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                "module.json is not a JSON object",
            )
        })?;
        object.insert(
            "manifest".into(),
            format!("{public_url}/module.json").into(),
        );
        object.insert("download".into(), format!("{public_url}/module.zip").into());
        let version = object
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("0.0.0")
            .to_owned();
        let manifest = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        let archive = zip_module(&root, &manifest)?;
        Ok(ModulePackage {
            manifest,
            archive,
            version,
        })
    }
}

/// Zips `root` under a top-level `gold-box/` folder (the layout Foundry expects),
/// replacing its `module.json` with `manifest`.
fn zip_module(root: &Path, manifest: &[u8]) -> io::Result<Vec<u8>> {
    let mut files = Vec::new();
    collect_files(root, root, &mut files)?;
    files.sort();
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for relative in files {
        let name = format!(
            "{MODULE_ID}/{}",
            relative.to_string_lossy().replace('\\', "/")
        );
        writer.start_file(name, options).map_err(io::Error::other)?;
        if relative == Path::new("module.json") {
            writer.write_all(manifest)?;
        } else {
            writer.write_all(&std::fs::read(root.join(&relative))?)?;
        }
    }
    Ok(writer.finish().map_err(io::Error::other)?.into_inner())
}

fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else if let Ok(relative) = path.strip_prefix(root) {
            out.push(relative.to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn manifest_and_archive_point_at_the_public_url() {
        let dir = std::env::temp_dir().join(format!("gold-box-package-{}", std::process::id()));
        let root = dir.join(MODULE_ID);
        std::fs::create_dir_all(root.join("scripts")).expect("mkdir");
        std::fs::write(
            root.join("module.json"),
            r#"{"id":"gold-box","version":"1.2.3","manifest":"https://example.invalid/module.json"}"#,
        )
        .expect("write manifest");
        std::fs::write(root.join("scripts/gold-box.js"), "export {};").expect("write script");

        let package = ModulePackage::load(&dir, "http://127.0.0.1:9999/").expect("load");
        let manifest: Value = serde_json::from_slice(&package.manifest).expect("json");
        assert_eq!(manifest["manifest"], "http://127.0.0.1:9999/module.json");
        assert_eq!(manifest["download"], "http://127.0.0.1:9999/module.zip");
        assert_eq!(package.version, "1.2.3");

        let mut archive = zip::ZipArchive::new(Cursor::new(package.archive)).expect("zip");
        let mut inner = String::new();
        archive
            .by_name("gold-box/module.json")
            .expect("manifest in archive")
            .read_to_string(&mut inner)
            .expect("read");
        assert!(inner.contains("http://127.0.0.1:9999/module.zip"));
        assert!(archive.by_name("gold-box/scripts/gold-box.js").is_ok());
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_missing_module_directory_names_the_path() {
        let err = ModulePackage::load(Path::new("/nonexistent-gold-box"), "http://x")
            .expect_err("missing");
        assert!(
            err.to_string()
                .contains("/nonexistent-gold-box/gold-box/module.json")
        );
    }
}
