//! The HTTP endpoints against the real server: health, the module files, JSON errors
//! for unknown paths and methods, and the DNS-rebinding Host check.

mod support;

use serde_json::Value;
use support::*;

fn url(server: &gold_box_server::ServerHandle, path: &str) -> String {
    format!("{}{path}", server.url())
}

#[tokio::test]
async fn health_reports_service_version_protocol_and_ai_state() {
    let server = start(&[]).await;
    let response = reqwest::get(url(&server, "/api/health"))
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["service"], "gold-box");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["protocol"], 1);
    assert_eq!(body["ai_busy"], false);
}

#[tokio::test]
async fn an_unknown_path_is_a_json_404() {
    let server = start(&[]).await;
    let response = reqwest::get(url(&server, "/nope")).await.expect("request");
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/nope")
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_json_405() {
    let server = start(&[]).await;
    let response = reqwest::Client::new()
        .delete(url(&server, "/api/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 405);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn a_foreign_host_header_is_refused_with_403() {
    let server = start(&[]).await;
    let response = reqwest::Client::new()
        .get(url(&server, "/api/health"))
        .header("host", "attacker.example:80")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn localhost_and_the_public_url_host_are_accepted() {
    let server = start(&["--public-url", "https://gm.example.org"]).await;
    let port = server.addr().port();
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        "gm.example.org".to_owned(),
    ] {
        let response = reqwest::Client::new()
            .get(url(&server, "/api/health"))
            .header("host", host.as_str())
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "Host {host}");
    }
}

#[tokio::test]
async fn cors_allows_exactly_the_configured_origins() {
    let server = start(&["--foundry-origin", "http://foundry.local:30000"]).await;
    let client = reqwest::Client::new();
    let allowed = client
        .get(url(&server, "/api/health"))
        .header("origin", "http://foundry.local:30000")
        .send()
        .await
        .expect("request");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or_default()),
        Some("http://foundry.local:30000")
    );
    let foreign = client
        .get(url(&server, "/api/health"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .expect("request");
    assert!(
        foreign
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let preflight = client
        .request(reqwest::Method::OPTIONS, url(&server, "/api/health"))
        .header("origin", "http://foundry.local:30000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("request");
    assert!(
        preflight.status().is_success(),
        "preflight answered {}",
        preflight.status()
    );
    let allowed_headers = preflight
        .headers()
        .get("access-control-allow-headers")
        .map(|v| v.to_str().unwrap_or_default().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(
        allowed_headers.contains("authorization") && allowed_headers.contains("content-type"),
        "{allowed_headers}"
    );
}

#[tokio::test]
async fn without_a_packaged_module_the_module_files_are_a_404_that_says_what_to_do() {
    let server = start(&[]).await;
    for path in ["/module.json", "/module.zip"] {
        let response = reqwest::get(url(&server, path)).await.expect("request");
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.expect("JSON");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("cargo xtask package")
        );
    }
}

#[tokio::test]
async fn the_manifest_points_at_the_server_itself() {
    let dist = temp_dir("dist");
    let module = dist.join("gold-box");
    std::fs::create_dir_all(&module).expect("mkdir");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../module.json"),
        module.join("module.json"),
    )
    .expect("copy");
    let server = start(&["--module-dir", dist.to_str().expect("utf-8")]).await;
    let manifest: Value = reqwest::get(url(&server, "/module.json"))
        .await
        .expect("request")
        .json()
        .await
        .expect("JSON");
    assert_eq!(manifest["id"], "gold-box");
    assert_eq!(
        manifest["manifest"],
        format!("{}/module.json", server.url())
    );
    assert_eq!(manifest["download"], format!("{}/module.zip", server.url()));
    let archive = reqwest::get(url(&server, "/module.zip"))
        .await
        .expect("request");
    assert_eq!(archive.headers()["content-type"], "application/zip");
    assert!(archive.bytes().await.expect("body").starts_with(b"PK"));
}
