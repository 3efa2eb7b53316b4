//! A WebSocket and its event listeners, owned together: dropping a `Socket` detaches
//! its listeners and closes it, so a socket the core has given up on can never deliver
//! a late event.

use super::callback::{Callback, callback};
use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

/// What a socket reports.
#[derive(Debug)]
pub enum SocketEvent {
    Open,
    Text(String),
    Closed { code: u16, reason: String },
}

pub struct Socket {
    ws: WebSocket,
    closed_by_us: bool,
    /// The one listener of `open`, `message` and `close`, told apart by the event's type
    /// (one closure, not three of three types: see `callback.rs`).
    _on_event: Callback,
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("url", &self.ws.url())
            .finish()
    }
}

impl Socket {
    /// Opens a socket to `url`; `on_event` receives its events until it is dropped.
    pub fn open(url: &str, on_event: impl Fn(SocketEvent) + 'static) -> Result<Socket, JsValue> {
        let ws = WebSocket::new(url)?;
        let on_event = callback(move |event: JsValue| {
            let kind = event.unchecked_ref::<Event>().type_();
            match kind.as_str() {
                "open" => on_event(SocketEvent::Open),
                "message" => {
                    if let Some(text) = event.unchecked_ref::<MessageEvent>().data().as_string() {
                        on_event(SocketEvent::Text(text));
                    }
                }
                "close" => {
                    let event = event.unchecked_ref::<CloseEvent>();
                    on_event(SocketEvent::Closed {
                        code: event.code(),
                        reason: event.reason(),
                    })
                }
                _ => {}
            }
        });
        let listener = on_event.as_ref().unchecked_ref();
        ws.set_onopen(Some(listener));
        ws.set_onmessage(Some(listener));
        ws.set_onclose(Some(listener));
        Ok(Socket {
            ws,
            closed_by_us: false,
            _on_event: on_event,
        })
    }

    /// The browser's socket, to send on after the runtime's borrow has ended.
    pub fn handle(&self) -> WebSocket {
        self.ws.clone()
    }

    /// Closes with a code the browser allows (1000 or 3000–4999).
    pub fn close(mut self, code: u16, reason: &str) {
        let _ = self.ws.close_with_code_and_reason(code, reason);
        self.closed_by_us = true;
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        if !self.closed_by_us {
            let _ = self.ws.close();
        }
    }
}
