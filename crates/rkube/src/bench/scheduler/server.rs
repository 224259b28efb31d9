//! The server under test for `rkube bench scheduler`: `rkube server` with its scheduler, node
//! simulator and `--simulated-nodes N`, on a free loopback port and its own data directory;
//! observed through /proc and stopped by PID with SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;

use crate::bench::client::{ApiConnection, ClientCredentials};
use crate::bench::server_process::{parse_status_kib, process_cpu_time};

/// How often readiness is polled.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Longest wait for the API to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for the server to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server is started.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The rkube executable.
    pub exe: PathBuf,
    /// Its data directory.
    pub data_dir: PathBuf,
    /// Where its stderr goes.
    pub log_path: PathBuf,
    /// `--simulated-nodes`.
    pub nodes: usize,
    /// `--cluster-cidr` (one /24 per node).
    pub cluster_cidr: String,
}

impl ServerSettings {
    /// The arguments after the executable, for a server listening on `port`.
    pub fn arguments(&self, port: u16) -> Vec<String> {
        vec![
            "server".into(),
            "--data-dir".into(),
            self.data_dir.display().to_string(),
            "--secure-port".into(),
            port.to_string(),
            "--bind-address".into(),
            "127.0.0.1".into(),
            "--simulated-nodes".into(),
            self.nodes.to_string(),
            "--cluster-cidr".into(),
            self.cluster_cidr.clone(),
        ]
    }
}

/// A running `rkube server` child process.
pub struct SchedulingServer {
    child: Child,
    /// Where the API listens.
    pub addr: SocketAddr,
    data_dir: PathBuf,
    log_path: PathBuf,
    started: Instant,
}

impl SchedulingServer {
    /// Starts the server on a free loopback port.
    pub fn spawn(settings: &ServerSettings) -> Result<SchedulingServer> {
        let port = free_loopback_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&settings.log_path)
            .with_context(|| format!("opening {}", settings.log_path.display()))?;
        let started = Instant::now();
        let child = Command::new(&settings.exe)
            .args(settings.arguments(port))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} server", settings.exe.display()))?;
        Ok(SchedulingServer {
            child,
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            data_dir: settings.data_dir.clone(),
            log_path: settings.log_path.clone(),
            started,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls GET /readyz until it answers 200; returns the client credentials the server wrote.
    pub async fn wait_ready(&mut self) -> Result<ClientCredentials> {
        let tls_dir = self.data_dir.join("tls");
        let mut credentials: Option<ClientCredentials> = None;
        let mut connection: Option<ApiConnection> = None;
        loop {
            if self.started.elapsed() > READY_TIMEOUT {
                bail!(
                    "the server was not ready within {READY_TIMEOUT:?}; log: {}",
                    self.log_tail()
                );
            }
            self.check_running()?;
            if credentials.is_none() {
                credentials = ClientCredentials::load(&tls_dir).ok();
            }
            if let Some(creds) = &credentials {
                if connection.is_none() {
                    connection = ApiConnection::connect(self.addr, creds).await.ok();
                }
                if let Some(conn) = &connection {
                    match conn.call(Method::GET, "/readyz", None, Bytes::new()).await {
                        Ok((status, _)) if status.is_success() => return Ok(creds.clone()),
                        Ok(_) => {}
                        Err(_) => connection = None,
                    }
                }
            }
            tokio::time::sleep(READY_POLL_INTERVAL).await;
        }
    }

    /// An error with the end of the log if the process has exited.
    pub fn check_running(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("the server exited with {status}; log: {}", self.log_tail());
        }
        Ok(())
    }

    /// (VmRSS, VmHWM) in bytes: resident memory now and its peak over the process's life.
    pub fn memory(&self) -> Result<(u64, u64)> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let kib = |name: &str| {
            parse_status_kib(&status, name)
                .map(|kib| kib * 1024)
                .with_context(|| format!("no {name} in {path}"))
        };
        Ok((kib("VmRSS")?, kib("VmHWM")?))
    }

    /// CPU time (user + system) the server has used so far.
    pub fn cpu_time(&self) -> Result<Duration> {
        process_cpu_time(&self.pid().to_string())
    }

    /// Sends SIGTERM and waits for the process to exit (killing it after a timeout).
    pub fn stop(mut self) -> Result<ExitStatus> {
        let pid = self.pid().to_string();
        let signalled = Command::new("kill").arg("-TERM").arg(&pid).status();
        if !matches!(signalled, Ok(s) if s.success()) {
            self.child.kill().context("killing the server")?;
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                self.child.kill().context("killing the server")?;
                return Ok(self.child.wait()?);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The last lines of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for SchedulingServer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clock ticks per second of /proc/stat times (USER_HZ, 100 on every Linux platform).
const USER_HZ: u64 = 100;

/// CPU time all CPUs of the machine have spent busy so far (not idle or waiting for I/O), from
/// /proc/stat; it includes processes of other containers sharing the kernel.
pub fn machine_busy_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let ticks = parse_machine_busy_ticks(&stat).context("unexpected /proc/stat format")?;
    Ok(Duration::from_millis(ticks * 1000 / USER_HZ))
}

/// user + nice + system + irq + softirq + steal of the aggregate `cpu` line of /proc/stat
/// (guest time is already counted in user).
pub fn parse_machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let field = |i: usize| fields.get(i).copied();
    Some(field(0)? + field(1)? + field(2)? + field(5)? + field(6)? + field(7).unwrap_or(0))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_loopback_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_the_busy_ticks_of_proc_stat() {
        let stat = "cpu  100 20 30 5000 40 5 6 7 0 0\ncpu0 50 10 15 2500 20 2 3 3 0 0\n";
        assert_eq!(
            parse_machine_busy_ticks(stat),
            Some(100 + 20 + 30 + 5 + 6 + 7)
        );
        assert_eq!(
            parse_machine_busy_ticks("cpu  1 2 3 4 5 6 7\n"),
            Some(1 + 2 + 3 + 6 + 7)
        );
        assert_eq!(parse_machine_busy_ticks("cpu  1 x 3 4 5 6 7\n"), None);
        assert_eq!(parse_machine_busy_ticks("intr 5\n"), None);
        assert!(machine_busy_time().is_ok());
    }

    #[test]
    fn passes_the_node_count_and_cluster_cidr() {
        let settings = ServerSettings {
            exe: "/bin/rkube".into(),
            data_dir: "/tmp/d".into(),
            log_path: "/tmp/d.log".into(),
            nodes: 5000,
            cluster_cidr: "10.0.0.0/8".into(),
        };
        let args = settings.arguments(6443);
        let value_of = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        assert_eq!(args[0], "server");
        assert_eq!(value_of("--data-dir").as_deref(), Some("/tmp/d"));
        assert_eq!(value_of("--secure-port").as_deref(), Some("6443"));
        assert_eq!(value_of("--bind-address").as_deref(), Some("127.0.0.1"));
        assert_eq!(value_of("--simulated-nodes").as_deref(), Some("5000"));
        assert_eq!(value_of("--cluster-cidr").as_deref(), Some("10.0.0.0/8"));
        assert!(!args.iter().any(|a| a.starts_with("--disable")));
    }
}
