//! The server under test: `rkube server` spawned from this same executable on a free loopback
//! port, observed through /proc and stopped by PID with SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http::Method;

use super::client::{ApiConnection, ClientCredentials};

/// How often readiness is polled.
const READY_POLL_INTERVAL: Duration = Duration::from_millis(2);
/// Longest wait for a server to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a server to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `rkube server` child process.
pub struct ServerProcess {
    child: Child,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// Where the API listens.
    pub addr: SocketAddr,
    log_path: PathBuf,
    started: Instant,
}

impl ServerProcess {
    /// Starts `exe server` on a free loopback port with `data_dir`, its stderr going to
    /// `log_path`. The start time is taken right before the process is spawned.
    pub fn spawn(exe: &Path, data_dir: &Path, log_path: &Path) -> Result<ServerProcess> {
        let port = free_loopback_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut command = Command::new(exe);
        command
            .arg("server")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--secure-port")
            .arg(port.to_string())
            .arg("--bind-address")
            .arg("127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let started = Instant::now();
        let child = command
            .spawn()
            .with_context(|| format!("starting {} server", exe.display()))?;
        Ok(ServerProcess {
            child,
            data_dir: data_dir.to_path_buf(),
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            log_path: log_path.to_path_buf(),
            started,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls GET /readyz (authenticated, over TLS) every 2 ms until it answers 200; returns the
    /// time from spawn to that answer and the client credentials the server wrote.
    pub async fn wait_ready(&mut self) -> Result<(Duration, ClientCredentials)> {
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
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited with {status} before it was ready; log: {}",
                    self.log_tail()
                );
            }
            if credentials.is_none() {
                // The files are written atomically; until all three exist this fails.
                credentials = ClientCredentials::load(&tls_dir).ok();
            }
            if let Some(creds) = &credentials {
                if connection.is_none() {
                    connection = ApiConnection::connect(self.addr, creds).await.ok();
                }
                if let Some(conn) = &connection {
                    match conn.call(Method::GET, "/readyz", None, Bytes::new()).await {
                        Ok((status, _)) if status.is_success() => {
                            return Ok((self.started.elapsed(), creds.clone()));
                        }
                        Ok(_) => {}
                        Err(_) => connection = None,
                    }
                }
            }
            tokio::time::sleep(READY_POLL_INTERVAL).await;
        }
    }

    /// Resident set size (VmRSS) in bytes.
    pub fn rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        parse_status_kib(&status, "VmRSS")
            .map(|kib| kib * 1024)
            .context("no VmRSS in /proc/PID/status")
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
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The last lines of the server's log, for error messages.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Clock ticks per second of /proc/PID/stat times (USER_HZ, 100 on every Linux platform).
const USER_HZ: u64 = 100;

/// CPU time (user + system) of process `pid` ("self" for this one).
pub fn process_cpu_time(pid: &str) -> Result<Duration> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_stat_cpu_ticks(&stat)
        .map(|ticks| Duration::from_millis(ticks * 1000 / USER_HZ))
        .context("unexpected /proc/PID/stat format")
}

/// utime + stime, in clock ticks, from the text of /proc/PID/stat (fields 14 and 15; the
/// command name in parentheses may contain spaces).
pub fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_loopback_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// The value in KiB of a `Name:   1234 kB` line of /proc/PID/status or /proc/meminfo.
pub fn parse_status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        if key.trim() != name {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

/// Total size in bytes of the regular files at or under `path` (what `du --apparent-size`
/// counts).
pub fn directory_bytes(path: &Path) -> Result<u64> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if !metadata.is_dir() {
        return Ok(metadata.len());
    }
    let dir = path;
    let mut total = 0;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            total += directory_bytes(&entry.path())?;
        } else if file_type.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_status_values() {
        let status = "Name:\trkube\nVmHWM:\t   20480 kB\nVmRSS:\t   12345 kB\nThreads:\t4\n";
        assert_eq!(parse_status_kib(status, "VmRSS"), Some(12345));
        assert_eq!(parse_status_kib(status, "VmHWM"), Some(20480));
        assert_eq!(parse_status_kib(status, "VmSwap"), None);
        assert_eq!(
            parse_status_kib("MemTotal:       24684548 kB\n", "MemTotal"),
            Some(24684548)
        );
    }

    #[test]
    fn parses_proc_stat_cpu_ticks() {
        let stat = "1234 (rk ube) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 40 0 0 20 0 4 0 100 0 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(290));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
        assert!(process_cpu_time("self").is_ok());
    }

    #[test]
    fn sums_directory_sizes() -> Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("a"), [0u8; 100])?;
        std::fs::create_dir(dir.path().join("sub"))?;
        std::fs::write(dir.path().join("sub").join("b"), [0u8; 23])?;
        assert_eq!(directory_bytes(dir.path())?, 123);
        assert_eq!(directory_bytes(&dir.path().join("a"))?, 100);
        Ok(())
    }
}
