//! A minimal HTTP/1.1 client for the tests' own requests to the server (`/api/health`,
//! `/api/metrics`, `/module.json`, `/module.zip`): one request per connection, the
//! server's own `Host`, `Content-Length` or chunked bodies. Small on purpose: the server
//! is the thing under test, and this is all a test needs to read it.

use crate::TestResult;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one request may take, connection to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A response: status, headers (names in lower case) and the body's bytes.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as UTF-8 text.
    pub fn text(&self) -> TestResult<String> {
        Ok(String::from_utf8(self.body.clone())?)
    }

    /// The body as JSON.
    pub fn json(&self) -> TestResult<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// `GET url` (an `http://host:port/path` URL) with extra request headers.
pub async fn get(url: &str, headers: &[(&str, &str)]) -> TestResult<Response> {
    let (host, path) = split_url(url)?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(&host, request))
        .await
        .map_err(|_| format!("GET {url} timed out after {REQUEST_TIMEOUT:?}"))?
        .map_err(|e| format!("GET {url}: {e}").into())
}

/// `GET url`, failing unless the answer is 200.
pub async fn get_ok(url: &str, headers: &[(&str, &str)]) -> TestResult<Response> {
    let response = get(url, headers).await?;
    if response.status != 200 {
        let body = String::from_utf8_lossy(&response.body).into_owned();
        return Err(format!("GET {url}: HTTP {} {body}", response.status).into());
    }
    Ok(response)
}

async fn exchange(host: &str, request: String) -> TestResult<Response> {
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw)
}

/// `http://host:port/path?query` → (`host:port`, `/path?query`).
fn split_url(url: &str) -> TestResult<(String, String)> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not an http:// URL: {url}"))?;
    let (host, path) = match rest.find('/') {
        Some(slash) => (&rest[..slash], &rest[slash..]),
        None => (rest, "/"),
    };
    Ok((host.to_owned(), path.to_owned()))
}

fn parse_response(raw: &[u8]) -> TestResult<Response> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("malformed HTTP response: no end of headers")?;
    let head = std::str::from_utf8(&raw[..head_end])?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| format!("malformed status line: {status_line}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let rest = &raw[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.contains("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut rest: &[u8]) -> TestResult<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("malformed chunked body")?;
        let size_text = std::str::from_utf8(&rest[..line_end])?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|e| format!("malformed chunk size {size_text:?}: {e}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err("truncated chunked body".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_response, split_url};
    use crate::TestResult;

    #[test]
    fn urls_split_into_host_and_path() -> TestResult {
        let (host, path) = split_url("http://127.0.0.1:8787/api/metrics?x=1")?;
        assert_eq!(host, "127.0.0.1:8787");
        assert_eq!(path, "/api/metrics?x=1");
        assert_eq!(split_url("http://127.0.0.1:1")?.1, "/");
        assert!(split_url("https://example.com/").is_err());
        Ok(())
    }

    #[test]
    fn chunked_and_plain_bodies_are_read() -> TestResult {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
        let response = parse_response(plain)?;
        assert_eq!(
            (response.status, response.body.as_slice()),
            (200, &b"hi"[..])
        );
        let chunked = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n\
                        3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let response = parse_response(chunked)?;
        assert_eq!(response.status, 404);
        assert_eq!(response.body, b"abcde");
        assert_eq!(response.header("Transfer-Encoding"), Some("chunked"));
        Ok(())
    }
}
