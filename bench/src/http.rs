//! A minimal HTTP/1.1 client over one keep-alive connection with `TCP_NODELAY`: requests
//! with a JSON body and a bearer token, answers read by `Content-Length`.
//!
//! The benchmarks time the server, so the client does as little as possible: no pool,
//! no redirects, no TLS, no chunked bodies (axum sends `Content-Length` for JSON).
//! One connection carries one request at a time; each concurrent caller has its own.

use crate::BenchResult;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest answer head accepted, in bytes.
const MAX_HEAD: usize = 16 * 1024;
/// How long one read may wait (longer than any roll deadline the benchmarks set).
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// One keep-alive connection.
#[derive(Debug)]
pub struct HttpConnection {
    stream: TcpStream,
    host: String,
    /// Bytes read past the end of the previous answer (none in practice).
    buffer: Vec<u8>,
}

/// An answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> BenchResult<T> {
        serde_json::from_slice(&self.body).map_err(|e| {
            format!(
                "unexpected answer ({}): {e}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
            .into()
        })
    }
}

impl HttpConnection {
    pub async fn connect(addr: SocketAddr) -> BenchResult<HttpConnection> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        stream.set_nodelay(true)?;
        Ok(HttpConnection {
            stream,
            host: addr.to_string(),
            buffer: Vec::with_capacity(4096),
        })
    }

    pub async fn get(&mut self, path: &str, bearer: Option<&str>) -> BenchResult<Answer> {
        self.request("GET", path, bearer, None).await
    }

    pub async fn post_json(
        &mut self,
        path: &str,
        bearer: Option<&str>,
        body: &[u8],
    ) -> BenchResult<Answer> {
        self.request("POST", path, bearer, Some(body)).await
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        body: Option<&[u8]>,
    ) -> BenchResult<Answer> {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        if let Some(token) = bearer {
            request.push_str(&format!("Authorization: Bearer {token}\r\n"));
        }
        let mut bytes = match body {
            Some(body) => {
                request.push_str(&format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                ));
                let mut bytes = request.into_bytes();
                bytes.extend_from_slice(body);
                bytes
            }
            None => {
                request.push_str("\r\n");
                request.into_bytes()
            }
        };
        self.stream.write_all(&bytes).await?;
        bytes.clear();
        self.read_answer().await
    }

    async fn read_answer(&mut self) -> BenchResult<Answer> {
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            if self.buffer.len() > MAX_HEAD {
                return Err("the answer's head is too long".into());
            }
            self.fill().await?;
        };
        let head = std::str::from_utf8(&self.buffer[..head_end])
            .map_err(|_| "the answer's head is not UTF-8")?;
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| format!("no status line in {head:?}"))?;
        let mut length = None;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!("a {} body is not supported here", value.trim()).into());
            }
        }
        let length = length.ok_or_else(|| format!("no Content-Length in {head:?}"))?;
        while self.buffer.len() < head_end + length {
            self.fill().await?;
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        Ok(Answer { status, body })
    }

    async fn fill(&mut self) -> BenchResult {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout(READ_TIMEOUT, self.stream.read(&mut chunk))
            .await
            .map_err(|_| format!("no answer within {READ_TIMEOUT:?}"))??;
        if read == 0 {
            return Err("the server closed the connection".into());
        }
        self.buffer.extend_from_slice(&chunk[..read]);
        Ok(())
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
