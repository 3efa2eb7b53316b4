//! The two shared secrets (the client token a GM enters, the admin token for metrics):
//! loaded from the configuration, or generated once and kept in the data directory so
//! that the token a GM entered keeps working across restarts.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use subtle::ConstantTimeEq;

/// File names inside the data directory.
const CLIENT_TOKEN_FILE: &str = "token";
const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Bytes of randomness in a generated token (hex-encoded: twice as many characters).
const GENERATED_TOKEN_BYTES: usize = 24;

/// A secret compared in constant time and never printed by `Debug`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Constant-time comparison, so the time taken says nothing about how much of a
    /// guess was right.
    pub fn matches(&self, candidate: &str) -> bool {
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// The secret itself, for printing it once to the operator who owns it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The server's secrets.
#[derive(Debug, Clone)]
pub struct Secrets {
    pub client: Secret,
    pub admin: Secret,
}

/// Why the secrets could not be had.
#[derive(Debug)]
pub enum SecretsError {
    Io { path: PathBuf, source: io::Error },
    Empty { what: &'static str },
    Same,
}

impl fmt::Display for SecretsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretsError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SecretsError::Empty { what } => write!(f, "the {what} is empty"),
            SecretsError::Same => f.write_str("the admin token must differ from the client token"),
        }
    }
}

impl std::error::Error for SecretsError {}

impl Secrets {
    /// The configured tokens, or those saved in `data_dir`, or new ones saved there.
    pub fn load(
        data_dir: &Path,
        client: Option<&str>,
        admin: Option<&str>,
    ) -> Result<Secrets, SecretsError> {
        let client = resolve(data_dir, CLIENT_TOKEN_FILE, client, "client token")?;
        let admin = resolve(data_dir, ADMIN_TOKEN_FILE, admin, "admin token")?;
        if client.matches(admin.expose()) {
            return Err(SecretsError::Same);
        }
        Ok(Secrets { client, admin })
    }
}

fn resolve(
    data_dir: &Path,
    file: &str,
    configured: Option<&str>,
    what: &'static str,
) -> Result<Secret, SecretsError> {
    if let Some(value) = configured {
        let value = value.trim();
        if value.is_empty() {
            return Err(SecretsError::Empty { what });
        }
        return Ok(Secret::new(value));
    }
    let path = data_dir.join(file);
    let io_error = |source| SecretsError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(saved) if !saved.trim().is_empty() => return Ok(Secret::new(saved.trim())),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_error(e)),
    }
    let token = generate_token().map_err(io_error)?;
    std::fs::create_dir_all(data_dir).map_err(io_error)?;
    write_private(&path, &token).map_err(io_error)?;
    tracing::info!(path = %path.display(), "generated a new {what}");
    Ok(Secret::new(token))
}

fn generate_token() -> io::Result<String> {
    let mut bytes = [0u8; GENERATED_TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    use std::io::Write;
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gold-box-secrets-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn generated_tokens_are_saved_and_reused_on_the_next_start() {
        let dir = temp_dir("reuse");
        let first = Secrets::load(&dir, None, None).expect("first start");
        let second = Secrets::load(&dir, None, None).expect("second start");
        assert_eq!(first.client.expose(), second.client.expose());
        assert_eq!(first.admin.expose(), second.admin.expose());
        assert_eq!(first.client.expose().len(), GENERATED_TOKEN_BYTES * 2);
        assert!(!first.client.matches(first.admin.expose()));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn configured_tokens_win_and_are_not_written() {
        let dir = temp_dir("configured");
        let secrets =
            Secrets::load(&dir, Some("client-secret"), Some("admin-secret")).expect("load");
        assert!(secrets.client.matches("client-secret"));
        assert!(!secrets.client.matches("client-secreT"));
        assert!(!dir.join(CLIENT_TOKEN_FILE).exists());
    }

    #[test]
    fn the_same_token_for_client_and_admin_is_refused() {
        let dir = temp_dir("same");
        let err = Secrets::load(&dir, Some("x"), Some("x")).expect_err("same tokens");
        assert!(err.to_string().contains("must differ"));
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
