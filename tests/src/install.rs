//! Installing a module by manifest URL, the way Foundry's setup screen does it: fetch the
//! manifest, fetch its `download` archive, and unpack it into the modules directory as
//! `<id>/` (an archive may hold the files at its root or under one top-level folder).

use crate::{TestResult, http};
use serde_json::Value;
use std::io::{Cursor, Read};
use std::path::{Component, Path, PathBuf};

/// A module fetched and unpacked.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The manifest as served at the manifest URL.
    pub manifest: Value,
    /// The `Content-Type` of the archive's response.
    pub archive_content_type: Option<String>,
    /// Every file name in the archive, as stored.
    pub archive_entries: Vec<String>,
    /// `<modules dir>/<id>/`, holding the unpacked `module.json`.
    pub dir: PathBuf,
}

/// Fetches `manifest_url`, downloads its `download` URL and unpacks it into
/// `modules_dir/<id>/`.
pub async fn install_by_manifest_url(
    manifest_url: &str,
    modules_dir: &Path,
) -> TestResult<Installed> {
    let manifest = http::get_ok(manifest_url, &[]).await?.json()?;
    let id = manifest["id"]
        .as_str()
        .ok_or_else(|| format!("the manifest at {manifest_url} has no id: {manifest}"))?
        .to_owned();
    let download = manifest["download"]
        .as_str()
        .ok_or_else(|| format!("the manifest at {manifest_url} has no download URL: {manifest}"))?
        .to_owned();
    let archive = http::get_ok(&download, &[]).await?;
    let archive_content_type = archive.header("content-type").map(str::to_owned);
    let dir = modules_dir.join(&id);
    let archive_entries = unpack(&archive.body, &id, &dir)?;
    Ok(Installed {
        manifest,
        archive_content_type,
        archive_entries,
        dir,
    })
}

/// Unpacks a module archive into `dir`: entries under a single top-level `<id>/` folder
/// lose that folder, as Foundry does; entries that would land outside `dir` are refused.
pub fn unpack(archive: &[u8], id: &str, dir: &Path) -> TestResult<Vec<String>> {
    let mut zip = zip::ZipArchive::new(Cursor::new(archive))
        .map_err(|e| format!("the download is not a zip archive: {e}"))?;
    let names: Vec<String> = zip
        .file_names()
        .map(|name| name.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()?;
    let prefix = format!("{id}/");
    let nested = !names.is_empty() && names.iter().all(|n| n.starts_with(&prefix));
    std::fs::create_dir_all(dir)?;
    for index in 0..zip.len() {
        let mut entry = zip.by_index(index)?;
        let enclosed = entry
            .enclosed_name()
            .ok_or_else(|| format!("unsafe path in the archive: {:?}", entry.name()))?;
        let relative = if nested {
            enclosed.strip_prefix(id).map(Path::to_path_buf)?
        } else {
            enclosed
        };
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            continue; // the top-level folder itself
        }
        let target = dir.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&target)?;
            continue;
        }
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        std::fs::write(&target, bytes)?;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::unpack;
    use crate::{TempDir, TestResult};
    use std::io::{Cursor, Write};

    fn archive(entries: &[(&str, &str)]) -> TestResult<Vec<u8>> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in entries {
            writer.start_file(*name, zip::write::SimpleFileOptions::default())?;
            writer.write_all(content.as_bytes())?;
        }
        Ok(writer.finish()?.into_inner())
    }

    #[test]
    fn a_top_level_module_folder_is_unpacked_into_the_module_dir() -> TestResult {
        let tmp = TempDir::new("gold-box-unpack-test")?;
        let dir = tmp.path().join("gold-box");
        let bytes = archive(&[
            ("gold-box/module.json", "{}"),
            ("gold-box/scripts/a.js", "x"),
        ])?;
        unpack(&bytes, "gold-box", &dir)?;
        assert_eq!(std::fs::read_to_string(dir.join("module.json"))?, "{}");
        assert_eq!(std::fs::read_to_string(dir.join("scripts/a.js"))?, "x");
        Ok(())
    }

    #[test]
    fn files_at_the_archive_root_are_unpacked_as_they_are() -> TestResult {
        let tmp = TempDir::new("gold-box-unpack-test")?;
        let dir = tmp.path().join("gold-box");
        unpack(&archive(&[("module.json", "{}")])?, "gold-box", &dir)?;
        assert!(dir.join("module.json").is_file());
        Ok(())
    }

    #[test]
    fn paths_out_of_the_module_dir_are_refused() -> TestResult {
        let tmp = TempDir::new("gold-box-unpack-test")?;
        let bytes = archive(&[("../evil.js", "x")])?;
        assert!(unpack(&bytes, "gold-box", &tmp.path().join("gold-box")).is_err());
        assert!(!tmp.path().join("evil.js").exists());
        Ok(())
    }
}
