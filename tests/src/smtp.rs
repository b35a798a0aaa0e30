//! A real SMTP server for the tests: Python's `aiosmtpd` (the maintained successor of
//! `smtpd`) on a loopback port, storing every message it accepts in a Maildir, read back here.
//! `aiosmtpd` must be installed (`pip install aiosmtpd`; `.ci/run` does it): a test fails
//! loudly when it is not.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running sink (stopped on drop).
pub struct SmtpSink {
    child: Child,
    dir: PathBuf,
    /// `smtp://127.0.0.1:{port}`.
    pub url: String,
}

/// One message as stored: its headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Mail {
    /// The first header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let port = crate::free_port();
        let dir =
            std::env::temp_dir().join(format!("diario-smtp-{}", uuid::Uuid::now_v7().simple()));
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("the SMTP sink needs python3 with aiosmtpd: {e}"));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("aiosmtpd exited ({status}); install it with `pip install aiosmtpd`: {err}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not listen on {port} within 15 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpSink {
            child,
            dir,
            url: format!("smtp://127.0.0.1:{port}"),
        }
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(text) = std::fs::read_to_string(entry.path()) else {
                    continue;
                };
                let text = text.replace("\r\n", "\n");
                let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
                let mut headers: Vec<(String, String)> = Vec::new();
                for line in head.lines() {
                    if line.starts_with([' ', '\t']) {
                        if let Some(last) = headers.last_mut() {
                            last.1.push(' ');
                            last.1.push_str(line.trim());
                        }
                    } else if let Some((k, v)) = line.split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
                    }
                }
                out.push(Mail {
                    headers,
                    body: body.to_owned(),
                });
            }
        }
        out
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
