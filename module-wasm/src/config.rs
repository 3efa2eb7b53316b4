//! What the JS module passes to `start`: where the server is, the token, and who is
//! connecting.

use gold_box_protocol::json::{Fields, FromJson, JsonError};
use gold_box_protocol::text::{concat, trim};
use gold_box_protocol::{JsonMap, JsonValue, UserInfo, WorldInfo};

/// The core's start-up configuration, as the JS module sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreConfig {
    /// `http(s)://host:port`, as the GM entered it.
    pub server_url: String,
    pub token: String,
    pub world: WorldInfo,
    pub user: UserInfo,
    /// The world's Gold Box settings (role, context size, …), synced on connect.
    pub settings: JsonMap,
}

impl FromJson for CoreConfig {
    /// `{serverUrl, token, world, user, settings?}` (the JS module's camelCase).
    fn from_json(value: &JsonValue) -> Result<Self, JsonError> {
        let fields = Fields::of(value)?;
        Ok(CoreConfig {
            server_url: fields.req("serverUrl")?,
            token: fields.req("token")?,
            world: fields.req("world")?,
            user: fields.req("user")?,
            settings: fields.or_default("settings")?,
        })
    }
}

/// Why a server URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadServerUrl(pub String);

impl BadServerUrl {
    /// The `Display` text, built without `core::fmt` (see `gold_box_protocol::text`).
    pub fn message(&self) -> String {
        concat(&[
            "server URL `",
            &self.0,
            "` must start with http:// or https:// (for example http://127.0.0.1:8787)",
        ])
    }
}

impl std::fmt::Display for BadServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())
    }
}

/// The base URL without a trailing slash: `http://host:port`.
pub fn http_base(server_url: &str) -> Result<String, BadServerUrl> {
    // By hand (see `gold_box_protocol::text::trim`): the trailing slashes are ASCII, so
    // the cut is on a character boundary.
    let trimmed = trim(server_url);
    let mut end = trimmed.len();
    while end > 0 && trimmed.as_bytes().get(end - 1) == Some(&b'/') {
        end -= 1;
    }
    let trimmed = trimmed.get(..end).unwrap_or_default();
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| BadServerUrl(server_url.to_owned()))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(BadServerUrl(server_url.to_owned()));
    }
    Ok(trimmed.to_owned())
}

/// The WebSocket URL for a server URL: `http://h:p` → `ws://h:p/ws`.
pub fn websocket_url(server_url: &str) -> Result<String, BadServerUrl> {
    let base = http_base(server_url)?;
    // `strip_prefix`, not slicing: a slice links core's panic message for a cut inside
    // a character (about 3 KB of .wasm).
    let ws = match (base.strip_prefix("https://"), base.strip_prefix("http://")) {
        (Some(rest), _) => ("wss://", rest),
        (None, Some(rest)) => ("ws://", rest),
        (None, None) => return Err(BadServerUrl(server_url.to_owned())),
    };
    Ok(concat(&[ws.0, ws.1, "/ws"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_reads_from_the_js_modules_object() {
        let value: JsonValue = serde_json::from_str(
            r#"{"serverUrl":"http://127.0.0.1:8787","token":"t","world":{"id":"w","title":"T","system":"dnd5e"},"user":{"id":"u","name":"GM","is_gm":true},"settings":{"role":"dm"}}"#,
        )
        .expect("json");
        let config = CoreConfig::from_json(&value).expect("a configuration");
        assert_eq!(config.server_url, "http://127.0.0.1:8787");
        assert_eq!(config.user.name, "GM");
        assert_eq!(
            config.settings.get("role"),
            Some(&JsonValue::String("dm".into()))
        );
        let value: JsonValue =
            serde_json::from_str(r#"{"serverUrl":"x","token":"t","world":{}}"#).expect("json");
        let error = CoreConfig::from_json(&value).expect_err("no world id, no user");
        assert_eq!(error.to_string(), "missing field `world.id`");
    }

    #[test]
    fn http_urls_become_websocket_urls() {
        assert_eq!(
            websocket_url("http://127.0.0.1:8787").as_deref(),
            Ok("ws://127.0.0.1:8787/ws")
        );
        assert_eq!(
            websocket_url("https://gm.example.org/").as_deref(),
            Ok("wss://gm.example.org/ws")
        );
        assert_eq!(
            websocket_url(" http://localhost:1/base/ ").as_deref(),
            Ok("ws://localhost:1/base/ws")
        );
    }

    #[test]
    fn urls_without_an_http_scheme_are_refused_with_an_example() {
        for bad in [
            "",
            "127.0.0.1:8787",
            "ws://127.0.0.1:8787",
            "http://",
            "http:///x",
        ] {
            let error = websocket_url(bad).expect_err(bad);
            assert!(
                error.to_string().contains("http://127.0.0.1:8787"),
                "{error}"
            );
        }
    }
}
