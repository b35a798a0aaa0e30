//! `diario demo` as a process for the tests: started on a free port in its own directory,
//! ready when it answers, its printed lines (the tokens) collected, stopped on drop.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::Duration;

pub struct DemoProcess {
    child: Child,
    dir: PathBuf,
    lines: Receiver<String>,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
}

impl DemoProcess {
    /// Starts `diario demo` and waits until it is ready (the demo written, the read models
    /// caught up).
    pub async fn start() -> DemoProcess {
        let dir =
            std::env::temp_dir().join(format!("diario-demo-{}", uuid::Uuid::now_v7().simple()));
        let port = crate::free_port();
        let mut child = Command::new(crate::diario_binary())
            .args(["demo", "--addr", &format!("127.0.0.1:{port}"), "--dir"])
            .arg(&dir)
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start diario demo");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{base}/readyz")).send().await
                && r.status() == 200
            {
                return DemoProcess {
                    child,
                    dir,
                    lines,
                    base,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("diario demo exited: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("diario demo did not become ready in 60 s");
    }

    /// The lines printed so far.
    pub fn printed(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

/// The token the demo printed for the person whose line contains `name` (the line after it:
/// `Authorization: Bearer <token>`).
pub fn token_of(lines: &[String], name: &str) -> String {
    let at = lines
        .iter()
        .position(|l| l.contains(name))
        .unwrap_or_else(|| panic!("{name} among the demo's tokens:\n{}", lines.join("\n")));
    lines[at + 1]
        .trim()
        .strip_prefix("Authorization: Bearer ")
        .expect("a token line")
        .to_owned()
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
