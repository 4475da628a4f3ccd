//! A moto server as a child process.
//!
//! The server runs inside a small Python wrapper that binds the asked port (0 = any free one),
//! prints the port it got, and exits when its stdin closes. So the server goes away with its
//! parent however the parent ends (Ctrl-C, a panic, the test binary exiting), and tests get a
//! free port without a bind-then-release race.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

/// Runs moto's threaded server until stdin reaches EOF, its DynamoDB calls served one at a
/// time, and four of its slow paths made fast with the same answers (the file says why).
const WRAPPER: &str = include_str!("moto_server.py");

#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    #[error(
        "cannot start {python}: {source} (run `make venv` to create the virtualenv with moto, or set HOOKLINE_PYTHON)"
    )]
    Spawn { python: String, source: std::io::Error },
    #[error("moto did not start: {0}")]
    NotReady(String),
}

pub struct MotoServer {
    child: Child,
    // Held open: closing it tells the wrapper to stop.
    _stdin: ChildStdin,
    pub port: u16,
}

impl MotoServer {
    /// The Python with moto installed: `HOOKLINE_PYTHON`, or the workspace's `.venv`.
    pub fn default_python() -> PathBuf {
        std::env::var_os("HOOKLINE_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(".venv").join("bin").join("python")
        })
    }

    /// Starts moto on `127.0.0.1:port` (0 = a free port) and waits until it listens.
    pub fn start(port: u16) -> Result<Self, MotoError> {
        let python = Self::default_python();
        let mut child = Command::new(&python)
            .args(["-c", WRAPPER, &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| MotoError::Spawn { python: python.display().to_string(), source })?;
        let stdin = child.stdin.take().ok_or_else(|| MotoError::NotReady("no stdin".into()))?;
        let stdout = child.stdout.take().ok_or_else(|| MotoError::NotReady("no stdout".into()))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map_err(|e| MotoError::NotReady(e.to_string()))?;
        let port = line
            .strip_prefix("MOTO_PORT ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| MotoError::NotReady(format!("unexpected output {line:?} (is moto[server] installed?)")))?;
        Ok(Self { child, _stdin: stdin, port })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
