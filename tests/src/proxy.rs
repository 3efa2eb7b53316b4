//! A TCP proxy on 127.0.0.1 between the page and the server, so that a test can cut the
//! page's WebSocket for real while the server keeps running, and read what the page sent.
//!
//! It forwards bytes untouched, and records the bytes each WebSocket connection carries from
//! the page to the server: [`TcpProxy::page_frames`] reads the text frames in them, exactly as
//! the server received them (unmasked, in order). [`TcpProxy::cut`] closes every connection it carries and
//! from then on closes each new WebSocket connection (a request for `/ws`) as soon as it
//! arrives, while plain HTTP requests still pass: the network path for the socket is down,
//! the HTTP fallback is not. [`TcpProxy::restore`] lets WebSockets through again.
//!
//! The server checks `Host` (DNS-rebinding defence), and the page's requests through the
//! proxy carry the proxy's port; the server is therefore started with the proxy's URL as
//! its `--public-url`, the way a server behind a reverse proxy is configured.

use crate::TestResult;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{AbortHandle, JoinHandle};

/// How long a new connection may take to show its request line.
const PEEK_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough bytes to tell `GET /ws ` and `GET /ws?` from any other request line.
const REQUEST_PREFIX_LEN: usize = 8;

/// A running proxy.
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Shared {
    target: Mutex<Option<SocketAddr>>,
    cut: AtomicBool,
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, AbortHandle>>,
    websockets_forwarded: AtomicU64,
    websockets_refused: AtomicU64,
    connections_cut: AtomicU64,
    /// Per WebSocket connection, in the order they opened: the bytes the page sent.
    page_bytes: Mutex<Vec<Arc<Mutex<Vec<u8>>>>>,
}

impl Shared {
    fn connections(&self) -> std::sync::MutexGuard<'_, HashMap<u64, AbortHandle>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn target(&self) -> Option<SocketAddr> {
        *self.target.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the proxy has seen so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyStats {
    /// WebSocket connections passed on to the server.
    pub websockets_forwarded: u64,
    /// WebSocket connections closed on arrival while cut.
    pub websockets_refused: u64,
    /// Connections closed by [`TcpProxy::cut`].
    pub connections_cut: u64,
}

impl TcpProxy {
    /// Listens on 127.0.0.1 and a free port. Connections wait for [`TcpProxy::set_target`]
    /// (the server is started after the proxy, with the proxy's URL as its public URL).
    pub async fn start() -> TestResult<TcpProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(TcpProxy {
            addr,
            shared,
            accept,
        })
    }

    /// Where connections go from now on.
    pub fn set_target(&self, target: SocketAddr) {
        *self
            .shared
            .target
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(target);
    }

    /// `http://127.0.0.1:PORT`, the URL the page uses as its server.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.addr.port())
    }

    /// Closes every open connection and refuses new WebSockets until [`TcpProxy::restore`].
    /// Returns how many connections were closed.
    pub fn cut(&self) -> usize {
        self.shared.cut.store(true, Ordering::SeqCst);
        let open: Vec<AbortHandle> = self.shared.connections().drain().map(|(_, h)| h).collect();
        for handle in &open {
            handle.abort();
        }
        self.shared
            .connections_cut
            .fetch_add(open.len() as u64, Ordering::SeqCst);
        open.len()
    }

    /// Lets WebSockets through again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }

    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            websockets_forwarded: self.shared.websockets_forwarded.load(Ordering::SeqCst),
            websockets_refused: self.shared.websockets_refused.load(Ordering::SeqCst),
            connections_cut: self.shared.connections_cut.load(Ordering::SeqCst),
        }
    }

    /// Every text frame the page sent the server over WebSockets so far, decoded from the
    /// recorded bytes (connections in the order they opened, frames in the order sent).
    /// Fails on what the server could not have read either, or on compressed frames (which
    /// the server never negotiates).
    pub fn page_frames(&self) -> TestResult<Vec<String>> {
        let connections: Vec<Vec<u8>> = self
            .shared
            .page_bytes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|bytes| bytes.lock().unwrap_or_else(PoisonError::into_inner).clone())
            .collect();
        let mut frames = Vec::new();
        for bytes in connections {
            frames.extend(client_text_frames(&bytes)?);
        }
        Ok(frames)
    }

    /// Stops accepting and closes every connection.
    pub fn stop(self) {
        self.accept.abort();
        for (_, handle) in self.shared.connections().drain() {
            handle.abort();
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, handle) in self.shared.connections().drain() {
            handle.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let task_shared = shared.clone();
        // Registered before it can finish, so that its own removal always finds it.
        let mut connections = shared.connections();
        let task = tokio::spawn(async move {
            let _ = forward(client, &task_shared).await;
            task_shared.connections().remove(&id);
        });
        connections.insert(id, task.abort_handle());
        drop(connections);
    }
}

async fn forward(mut client: TcpStream, shared: &Shared) -> std::io::Result<()> {
    let websocket = is_websocket_request(&client).await?;
    if websocket && shared.cut.load(Ordering::SeqCst) {
        shared.websockets_refused.fetch_add(1, Ordering::SeqCst);
        return Ok(()); // dropping the stream closes it
    }
    let Some(target) = shared.target() else {
        return Ok(());
    };
    let mut server = TcpStream::connect(target).await?;
    if !websocket {
        tokio::io::copy_bidirectional(&mut client, &mut server).await?;
        return Ok(());
    }
    shared.websockets_forwarded.fetch_add(1, Ordering::SeqCst);
    let recorded = Arc::new(Mutex::new(Vec::new()));
    shared
        .page_bytes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(recorded.clone());
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = client_read.read(&mut buffer).await?;
            if read == 0 {
                return server_write.shutdown().await;
            }
            recorded
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(&buffer[..read]);
            server_write.write_all(&buffer[..read]).await?;
        }
    };
    let downstream = async {
        tokio::io::copy(&mut server_read, &mut client_write).await?;
        client_write.shutdown().await
    };
    tokio::try_join!(upstream, downstream)?;
    Ok(())
}

/// The text frames in the bytes a WebSocket client sent: the HTTP upgrade request, then
/// frames (RFC 6455 section 5.2), each masked; fragments are joined. A frame cut off at the
/// end (the connection was cut mid-frame) is left out: the server never read it whole.
fn client_text_frames(bytes: &[u8]) -> TestResult<Vec<String>> {
    let Some(header_end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(Vec::new());
    };
    let mut at = header_end + 4;
    let mut frames = Vec::new();
    let mut message: Option<Vec<u8>> = None;
    while at + 2 <= bytes.len() {
        let (first, second) = (bytes[at], bytes[at + 1]);
        let (fin, rsv, opcode) = (first & 0x80 != 0, first & 0x70, first & 0x0f);
        if rsv != 0 {
            return Err("a compressed (or extended) WebSocket frame: cannot read it".into());
        }
        let mut length = u64::from(second & 0x7f);
        let mut header = 2;
        if length == 126 || length == 127 {
            let size = if length == 126 { 2 } else { 8 };
            let Some(field) = bytes.get(at + 2..at + 2 + size) else {
                break;
            };
            length = field.iter().fold(0, |n, b| (n << 8) | u64::from(*b));
            header += size;
        }
        let masked = second & 0x80 != 0;
        let Some(mask) = bytes.get(at + header..at + header + if masked { 4 } else { 0 }) else {
            break;
        };
        let mask = mask.to_vec();
        header += mask.len();
        let start = at + header;
        let Some(end) = usize::try_from(length)
            .ok()
            .and_then(|length| start.checked_add(length))
            .filter(|end| *end <= bytes.len())
        else {
            break;
        };
        let payload: Vec<u8> = bytes[start..end]
            .iter()
            .enumerate()
            .map(|(i, b)| if mask.is_empty() { *b } else { b ^ mask[i % 4] })
            .collect();
        at = end;
        match opcode {
            0x1 => message = Some(payload),
            0x0 => {
                if let Some(message) = message.as_mut() {
                    message.extend_from_slice(&payload);
                }
            }
            _ => continue, // binary, close, ping, pong
        }
        if fin && let Some(text) = message.take() {
            frames.push(
                String::from_utf8(text)
                    .map_err(|e| format!("a text frame that is not UTF-8: {e}"))?,
            );
        }
    }
    Ok(frames)
}

/// Whether the connection opens with a request for `/ws`, read without consuming it.
async fn is_websocket_request(client: &TcpStream) -> std::io::Result<bool> {
    let deadline = tokio::time::Instant::now() + PEEK_TIMEOUT;
    let mut prefix = [0u8; REQUEST_PREFIX_LEN];
    loop {
        let seen = tokio::time::timeout_at(deadline, client.peek(&mut prefix))
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        if seen == 0 {
            return Ok(false);
        }
        if seen >= REQUEST_PREFIX_LEN {
            return Ok(&prefix[..7] == b"GET /ws" && matches!(prefix[7], b' ' | b'?'));
        }
        if !b"GET /ws ".starts_with(&prefix[..seen]) {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::client_text_frames;

    /// A client frame as a browser writes it: masked.
    fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [0x11, 0x22, 0x33, 0x44];
        let mut bytes = vec![if fin { 0x80 } else { 0 } | opcode];
        match payload.len() {
            n if n < 126 => bytes.push(0x80 | n as u8),
            n if n <= 0xffff => {
                bytes.push(0x80 | 126);
                bytes.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                bytes.push(0x80 | 127);
                bytes.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        bytes.extend_from_slice(&mask);
        bytes.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        bytes
    }

    #[test]
    fn text_frames_are_unmasked_and_fragments_joined_after_the_upgrade_request() {
        let long = "x".repeat(70_000);
        let mut bytes = b"GET /ws HTTP/1.1\r\nHost: a\r\n\r\n".to_vec();
        bytes.extend(frame(true, 0x1, br#"{"type":"ping"}"#));
        bytes.extend(frame(true, 0x9, b"ping")); // control frames are skipped
        bytes.extend(frame(false, 0x1, b"{\"type\":\"chat_"));
        bytes.extend(frame(true, 0x0, b"request\"}"));
        bytes.extend(frame(true, 0x1, long.as_bytes()));
        bytes.extend(&frame(true, 0x1, b"cut off")[..5]);
        let frames = client_text_frames(&bytes).expect("frames");
        assert_eq!(
            frames,
            [
                r#"{"type":"ping"}"#.to_owned(),
                r#"{"type":"chat_request"}"#.to_owned(),
                long
            ]
        );
    }

    #[test]
    fn a_compressed_frame_is_refused_rather_than_read_as_text() {
        let mut bytes = b"GET /ws HTTP/1.1\r\n\r\n".to_vec();
        let mut compressed = frame(true, 0x1, b"abc");
        compressed[0] |= 0x40;
        bytes.extend(compressed);
        assert!(client_text_frames(&bytes).is_err());
    }
}
