//! A TCP proxy on 127.0.0.1 in front of the real server, for the faults a real table
//! produces: [`FaultProxy::freeze`] stops forwarding in both directions but keeps both
//! sockets open (a laptop asleep, Wi-Fi gone without a FIN: half-open TCP), and
//! [`FaultProxy::cut`] closes every connection it carries at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Default)]
struct Shared {
    frozen: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A running proxy to one target address.
#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl FaultProxy {
    pub async fn start(target: SocketAddr) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared::default());
        let accepting = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let Ok(outbound) = TcpStream::connect(target).await else {
                    continue;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (ri, wi) = inbound.into_split();
                let (ro, wo) = outbound.into_split();
                let up = tokio::spawn(pump(ri, wo, accepting.clone()));
                let down = tokio::spawn(pump(ro, wi, accepting.clone()));
                let mut tasks = accepting
                    .tasks
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                tasks.push(up);
                tasks.push(down);
            }
        });
        FaultProxy {
            addr,
            shared,
            accept,
        }
    }

    /// `ws://` URL of the proxy's `/ws`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.addr.port())
    }

    /// Stops forwarding bytes both ways; every socket stays open.
    pub fn freeze(&self) {
        self.shared.frozen.store(true, Ordering::SeqCst);
    }

    /// Closes every connection the proxy carries (both sides see the socket end).
    pub fn cut(&self) {
        let tasks: Vec<JoinHandle<()>> = self
            .shared
            .tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain(..)
            .collect();
        for task in tasks {
            task.abort();
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}

/// Copies bytes until either side ends. Once frozen, it holds what it read and never
/// writes or reads again, while keeping both halves (and so both sockets) open.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<Shared>,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if shared.frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let read = match from.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => read,
        };
        if shared.frozen.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}
