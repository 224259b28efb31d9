//! Test support for rkube: start a real `rkube server` process on a free loopback port with its
//! own data directory, drive it with the real `/usr/bin/kubectl`, stop it by PID.
//!
//! It never touches processes it did not start and only talks to loopback addresses.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The kubectl every acceptance test uses.
pub const KUBECTL: &str = "/usr/bin/kubectl";

/// A running `rkube server` process.
pub struct Server {
    child: Option<Child>,
    bin: PathBuf,
    dir: PathBuf,
    _tempdir: Option<tempfile::TempDir>,
    /// The HTTPS port.
    pub port: u16,
    /// The admin kubeconfig the server wrote.
    pub kubeconfig: PathBuf,
    /// How long the last start took until the server said it was ready.
    pub startup: Duration,
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port");
    listener.local_addr().expect("local addr").port()
}

impl Server {
    /// Starts `bin server` on a free port with a fresh data directory.
    pub fn start(bin: &Path) -> Server {
        Self::start_with(bin, &[])
    }

    /// Like [`Server::start`], with extra command-line arguments.
    pub fn start_with(bin: &Path, extra: &[&str]) -> Server {
        let tempdir = tempfile::Builder::new()
            .prefix("rkube-test-")
            .tempdir()
            .expect("tempdir");
        let dir = tempdir.path().to_path_buf();
        let mut s = Server {
            child: None,
            bin: bin.to_path_buf(),
            kubeconfig: dir.join("admin.kubeconfig"),
            dir,
            _tempdir: Some(tempdir),
            port: free_port(),
            startup: Duration::ZERO,
        };
        s.spawn(extra);
        s
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }

    /// The server's log file (stderr of every start, appended).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn spawn(&mut self, extra: &[&str]) {
        let port = self.port.to_string();
        let dir = self.dir.to_string_lossy().to_string();
        let mut args = vec![
            "server",
            "--data-dir",
            &dir,
            "--secure-port",
            &port,
            "--bind-address",
            "127.0.0.1",
        ];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let mut child = Command::new(&self.bin)
            .args(&args)
            .env(
                "RUST_LOG",
                std::env::var("RKUBE_TEST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning rkube server");
        let stderr = child.stderr.take().expect("stderr piped");
        let log_path = self.log_path();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path)
                .ok();
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(f) = log.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                if !sent && line.contains("rkube is ready") {
                    let _ = tx.send(());
                    sent = true;
                }
            }
        });
        self.child = Some(child);
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
            self.kill();
            panic!("rkube server did not become ready within 30 s; log:\n{log}");
        }
        self.startup = started.elapsed();
    }

    /// The server's PID.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the server with SIGTERM and waits for it.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return child.wait().ok();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server with SIGKILL (a crash) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same data directory and port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn(&[]);
    }

    /// Starts the server again after [`Server::kill`].
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "server still running");
        self.spawn(&[]);
    }

    /// Runs kubectl against this server.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        self.kubectl_stdin(args, None)
    }

    /// Runs kubectl with `stdin` as its standard input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.kubectl_env(args, stdin, &[])
    }

    /// Runs kubectl with extra environment variables.
    pub fn kubectl_env(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(KUBECTL);
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.dir)
            .env_remove("KUBERNETES_SERVICE_HOST")
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning kubectl");
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(input.as_bytes())
                .expect("writing kubectl stdin");
        }
        child.wait_with_output().expect("waiting for kubectl")
    }

    /// Runs kubectl and returns its stdout; panics with its stderr if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.kubectl(args);
        check(args, &out)
    }

    /// Like [`Server::ok`] with standard input.
    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.kubectl_stdin(args, Some(stdin));
        check(args, &out)
    }

    /// Runs kubectl expecting failure; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        self.fails_stdin(args, None)
    }

    /// Like [`Server::fails`] with standard input.
    pub fn fails_stdin(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_stdin(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} succeeded but should have failed:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// `kubectl get ... -o json` parsed.
    pub fn get_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = args.to_vec();
        full.extend_from_slice(&["-o", "json"]);
        let out = self.ok(&full);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kubectl {full:?} printed no JSON ({e}):\n{out}"))
    }

    /// Waits until `probe` returns true, polling every 50 ms, up to `timeout`.
    pub fn wait_for(&self, timeout: Duration, mut probe: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if probe() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

fn check(args: &[&str], out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
