//! A TCP proxy on 127.0.0.1 between the page and the server, so that a test can cut the
//! page's WebSocket for real while the server keeps running.
//!
//! It forwards bytes untouched. [`TcpProxy::cut`] closes every connection it carries and
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
    if websocket {
        shared.websockets_forwarded.fetch_add(1, Ordering::SeqCst);
    }
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
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
