//! A WebSocket and its event listeners, owned together: dropping a `Socket` detaches
//! its listeners and closes it, so a socket the core has given up on can never deliver
//! a late event.

use wasm_bindgen::prelude::*;
use web_sys::{CloseEvent, MessageEvent, WebSocket};

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
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
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
    pub fn open(
        url: &str,
        on_event: impl Fn(SocketEvent) + Clone + 'static,
    ) -> Result<Socket, JsValue> {
        let ws = WebSocket::new(url)?;
        let open_handler = on_event.clone();
        let on_open = Closure::<dyn FnMut()>::new(move || open_handler(SocketEvent::Open));
        let message_handler = on_event.clone();
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            if let Some(text) = event.data().as_string() {
                message_handler(SocketEvent::Text(text));
            }
        });
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            on_event(SocketEvent::Closed {
                code: event.code(),
                reason: event.reason(),
            })
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Socket {
            ws,
            closed_by_us: false,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
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
