//! `POST /api/roll-result` from the browser, with `fetch`, abortable: the caller keeps
//! the `AbortController` and aborts the request when the core that asked for it is gone.

use gold_box_protocol::text::concat;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, Request, RequestInit, Response};

/// Posts `body` as JSON with the bearer token; the HTTP status, or `None` when no
/// answer came (network error, blocked or aborted request).
pub async fn post_json(url: &str, token: &str, body: &str, signal: &AbortSignal) -> Option<u16> {
    let window = web_sys::window()?;
    let headers = Headers::new().ok()?;
    headers.set("content-type", "application/json").ok()?;
    headers
        .set("authorization", &concat(&["Bearer ", token]))
        .ok()?;
    let init = RequestInit::new();
    init.set_method("POST");
    init.set_headers(&headers);
    init.set_body(&body.into());
    init.set_signal(Some(signal));
    let request = Request::new_with_str_and_init(url, &init).ok()?;
    let response = JsFuture::from(window.fetch_with_request(&request))
        .await
        .ok()?;
    response.dyn_into::<Response>().ok().map(|r| r.status())
}
