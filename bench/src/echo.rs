//! The floor: a plain tokio-tungstenite echo server, in a process of its own like the
//! Gold Box server (this binary run as `gold-box-bench echo-server`), and its round trip
//! on loopback with the same client, the same text (a `ping` frame) and the same load
//! pattern as the Gold Box figures. Nothing here parses JSON, routes or locks, so no
//! WebSocket round trip on this machine can be faster.

use crate::BenchResult;
use crate::load::{self, Caller, Counts, Measured};
use crate::native::Ws;
use crate::server::ServerProcess;
use futures_util::{SinkExt, StreamExt};
use std::io::{Read, Write};
use std::process::{Command, ExitCode};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

/// The subcommand that runs the echo server.
pub const SUBCOMMAND: &str = "echo-server";
/// What the floor's client sends: a Gold Box `ping` frame, so the bytes match.
const TEXT: &str = r#"{"type":"ping","request_id":"ping-1","data":{}}"#;

/// Starts the echo server process.
pub async fn start() -> BenchResult<ServerProcess> {
    let exe = std::env::current_exe()?;
    let mut command = Command::new(exe);
    command.arg(SUBCOMMAND);
    ServerProcess::spawn(command).await
}

/// Round trips on `connections` sockets at once.
pub async fn measure(
    server: &ServerProcess,
    connections: usize,
    counts: Counts,
) -> BenchResult<Measured<EchoCaller>> {
    let mut callers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (ws, _) =
            tokio_tungstenite::connect_async_with_config(server.ws_url(), None, true).await?;
        callers.push(EchoCaller { ws });
    }
    load::run(callers, counts).await
}

/// One echo connection.
#[derive(Debug)]
pub struct EchoCaller {
    ws: Ws,
}

impl Caller for EchoCaller {
    async fn round_trip(&mut self, _index: u64) -> BenchResult {
        self.ws.send(Message::Text(TEXT.into())).await?;
        match self.ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str() == TEXT => Ok(()),
            other => Err(format!("the echo server answered {other:?}").into()),
        }
    }
}

/// `gold-box-bench echo-server`: serves until its standard input closes (the benchmark
/// process ended or dropped it), with tokio's default multi-threaded runtime, as the
/// Gold Box server has.
pub fn serve_main() -> ExitCode {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        while matches!(std::io::stdin().read(&mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("echo-server: cannot start tokio: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo-server: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> BenchResult {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("echo server listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                    return;
                }
            }
        });
    }
}
