//! Short import and export names in the packaged .wasm, and the JS glue rewritten to match.
//!
//! Decision (issue 11, size): wasm-bindgen names each of the core's ~95 imports
//! `__wbg_<name>_<16 hex digits>` under the module `./gold_box_wasm_bg.js`, about 60 bytes
//! each, and the hashes do not compress. `wasm-opt --minify-imports-and-exports-and-modules`
//! renames every import, its module and every export to one or two letters and prints the
//! mapping; the glue that wasm-bindgen wrote is then rewritten with it: the key of each
//! import function, the module's key in the imports object, and each `wasm.<export>`.
//! Measured on the packaged .wasm: 4.4 KB raw and 1.9 KB gzipped less.
//!
//! Every name of the mapping must be found in the glue where it is expected (and no old
//! name may be left), or packaging fails: a wasm-bindgen that writes its glue differently
//! stops the build instead of shipping a module that cannot load.

use crate::package::WASM_OPT_FEATURES;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::process::Command;

/// Minifies the names in `wasm` in place and rewrites the glue `js` to match.
pub fn minify_names(wasm_opt: &Path, wasm: &Path, js: &Path) -> Result<(), String> {
    let output = Command::new(wasm_opt)
        .arg(wasm)
        .arg("--minify-imports-and-exports-and-modules")
        .args(WASM_OPT_FEATURES)
        .arg("-o")
        .arg(wasm)
        .output()
        .map_err(|e| format!("cannot start {}: {e}", wasm_opt.display()))?;
    if !output.status.success() {
        return Err(format!(
            "wasm-opt --minify-imports-and-exports-and-modules failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mapping: Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("wasm-opt's name mapping is not JSON: {e}"))?;
    let bytes = fs::read(wasm).map_err(|e| format!("cannot read {}: {e}", wasm.display()))?;
    let modules = import_modules(&bytes)?;
    let glue = fs::read_to_string(js).map_err(|e| format!("cannot read {}: {e}", js.display()))?;
    let glue = rewrite_glue(&glue, &mapping, &modules)?;
    fs::write(js, glue).map_err(|e| format!("cannot write {}: {e}", js.display()))
}

/// The glue with the mapping's names: `old: function(` keys of the imports object, the
/// module's quoted name, and `wasm.old` for each export.
fn rewrite_glue(glue: &str, mapping: &Value, modules: &[String]) -> Result<String, String> {
    let imports = mapping["imports"]
        .as_array()
        .ok_or("wasm-opt's mapping has no `imports`")?;
    let exports = mapping["exports"]
        .as_array()
        .ok_or("wasm-opt's mapping has no `exports`")?;
    let mut glue = glue.to_owned();
    let mut old_modules = Vec::new();
    for import in imports {
        let (Some(module), Some(old), Some(new)) =
            (import[0].as_str(), import[1].as_str(), import[2].as_str())
        else {
            return Err(format!("unexpected import in wasm-opt's mapping: {import}"));
        };
        if !old_modules.contains(&module) {
            old_modules.push(module);
        }
        glue = replace_once(
            &glue,
            &format!(" {old}: function("),
            &format!(" {new}: function("),
        )?;
    }
    // Every import is now in one module, whose new name is read from the .wasm.
    let [new_module] = modules else {
        return Err(format!(
            "after minifying, the .wasm imports from {modules:?}, not from one module"
        ));
    };
    for old in old_modules {
        glue = replace_once(
            &glue,
            &format!("\"{old}\": "),
            &format!("\"{new_module}\": "),
        )?;
    }
    for export in exports {
        let (Some(old), Some(new)) = (export[0].as_str(), export[1].as_str()) else {
            return Err(format!("unexpected export in wasm-opt's mapping: {export}"));
        };
        glue = replace_member(&glue, old, new);
    }
    Ok(glue)
}

/// `text` with its one occurrence of `from` replaced; an error if there is not exactly one.
fn replace_once(text: &str, from: &str, to: &str) -> Result<String, String> {
    match text.matches(from).count() {
        1 => Ok(text.replacen(from, to, 1)),
        n => Err(format!(
            "the JS glue has {n} occurrences of `{from}`, expected one: cannot apply wasm-opt's name mapping"
        )),
    }
}

/// `text` with every `wasm.old` (not followed by more of a name) made `wasm.new`.
fn replace_member(text: &str, old: &str, new: &str) -> String {
    let needle = format!("wasm.{old}");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let after = &rest[at + needle.len()..];
        let whole = !after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        out.push_str(&rest[..at]);
        out.push_str(if whole { "wasm." } else { &needle });
        if whole {
            out.push_str(new);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The distinct module names of the .wasm's imports (its import section, read as the
/// binary format lays it out).
fn import_modules(bytes: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = Reader { bytes, at: 8 };
    let mut modules: Vec<String> = Vec::new();
    while reader.at < bytes.len() {
        let id = reader.byte()?;
        let size = reader.leb()? as usize;
        if id != 2 {
            reader.at += size;
            continue;
        }
        for _ in 0..reader.leb()? {
            let module = reader.name()?;
            reader.name()?;
            match reader.byte()? {
                0 => {
                    reader.leb()?;
                }
                1 => {
                    reader.byte()?;
                    reader.limits()?;
                }
                2 => reader.limits()?,
                3 => {
                    reader.byte()?;
                    reader.byte()?;
                }
                4 => {
                    reader.byte()?;
                    reader.leb()?;
                }
                kind => return Err(format!("unknown import kind {kind} in the .wasm")),
            }
            if !modules.contains(&module) {
                modules.push(module);
            }
        }
        break;
    }
    Ok(modules)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn byte(&mut self) -> Result<u8, String> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or("the .wasm ends inside its import section")?;
        self.at += 1;
        Ok(byte)
    }

    fn leb(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        let mut shift = 0;
        loop {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                return Err("a number in the .wasm is too long".into());
            }
        }
    }

    fn name(&mut self) -> Result<String, String> {
        let len = self.leb()? as usize;
        let end = self.at + len;
        let name = self
            .bytes
            .get(self.at..end)
            .ok_or("the .wasm ends inside a name")?;
        self.at = end;
        String::from_utf8(name.to_vec()).map_err(|_| "a name in the .wasm is not UTF-8".into())
    }

    fn limits(&mut self) -> Result<(), String> {
        let flags = self.byte()?;
        self.leb()?;
        if flags & 1 != 0 {
            self.leb()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_glue_takes_the_short_names() {
        let glue = "const import0 = {\n    __wbg_now_1a: function() { return wasm.memory; },\n};\nreturn { \"./g_bg.js\": import0 };\nwasm.goldboxcore_start(1); wasm.goldboxcore_startx(2);";
        let mapping: Value = serde_json::from_str(
            r#"{"imports":[["./g_bg.js","__wbg_now_1a","b"]],"exports":[["memory","c"],["goldboxcore_start","d"]]}"#,
        )
        .expect("json");
        let rewritten = rewrite_glue(glue, &mapping, &["a".to_owned()]).expect("rewritten");
        assert_eq!(
            rewritten,
            "const import0 = {\n    b: function() { return wasm.c; },\n};\nreturn { \"a\": import0 };\nwasm.d(1); wasm.goldboxcore_startx(2);"
        );
    }

    #[test]
    fn a_name_missing_from_the_glue_stops_packaging() {
        let mapping: Value =
            serde_json::from_str(r#"{"imports":[["./g_bg.js","__wbg_gone","b"]],"exports":[]}"#)
                .expect("json");
        assert!(rewrite_glue("nothing here", &mapping, &["a".to_owned()]).is_err());
    }
}
