//! What `rkube bench api` measured, and its human and markdown renderings. Every measurement is
//! optional: a phase that failed leaves its field empty and a note in `errors`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::server_process::parse_status_kib;
use super::stats::{LatencySummary, median, rate_per_second};
use super::watch::WatchResult;
use super::workload::WriteResult;

const MIB: f64 = 1024.0 * 1024.0;
/// Aim: idle resident memory after start.
const AIM_IDLE_RSS_BYTES: u64 = 30 * 1024 * 1024;
/// Aim: time from process start to a successful /readyz.
const AIM_READY: Duration = Duration::from_millis(500);
/// Aim: durable creates per second.
const AIM_CREATES_PER_SECOND: f64 = 2000.0;
/// Aim: p99 latency of a create at that load.
const AIM_CREATE_P99: Duration = Duration::from_millis(20);
/// Growth of RSS over the idle period after load still counted as flat.
const FLAT_RSS_TOLERANCE_BYTES: u64 = 1024 * 1024;

/// The machine the benchmark ran on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MachineInfo {
    /// CPUs available to this process.
    pub cpus: usize,
    /// CPU model name.
    pub cpu_model: String,
    /// Total memory in bytes.
    pub memory_bytes: u64,
    /// Kernel release.
    pub kernel: String,
    /// File system type holding the data directories.
    pub filesystem: String,
}

impl MachineInfo {
    /// Reads the description from /proc; `work_dir` is where the data directories live.
    pub fn current(work_dir: &Path) -> MachineInfo {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        MachineInfo {
            cpus: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.trim() == "model name")
                        .map(|(_, v)| v.trim().to_string())
                })
                .unwrap_or_else(|| "unknown".into()),
            memory_bytes: parse_status_kib(&read("/proc/meminfo"), "MemTotal").unwrap_or(0) * 1024,
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            filesystem: filesystem_of(&read("/proc/mounts"), work_dir)
                .unwrap_or_else(|| "unknown".into()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} CPUs ({}), {:.1} GiB memory, Linux {}, data on {}",
            self.cpus,
            self.cpu_model,
            self.memory_bytes as f64 / (MIB * 1024.0),
            self.kernel,
            self.filesystem
        )
    }
}

/// The file system type of the longest mount point in `mounts` (/proc/mounts) containing `path`.
pub fn filesystem_of(mounts: &str, path: &Path) -> Option<String> {
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (_device, mount_point, fs_type) = (fields.next()?, fields.next()?, fields.next()?);
            path.starts_with(mount_point)
                .then(|| (mount_point.len(), fs_type.to_string()))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, fs_type)| fs_type)
}

/// Resident memory of the server at the points of the run.
#[derive(Debug, Clone, Default)]
pub struct RssReport {
    /// Right after /readyz answered.
    pub ready: Option<u64>,
    /// After 3 s idle.
    pub idle: Option<u64>,
    /// Right after the creates.
    pub after_creates: Option<u64>,
    /// After 10 s idle following the creates.
    pub after_load_idle: Option<u64>,
    /// After a restart on the full data directory, once ready.
    pub after_restart: Option<u64>,
}

/// CPU used during a phase by the server and by this benchmark's own clients (they share the
/// machine).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuUse {
    /// Server CPU time (user + system).
    pub server: Duration,
    /// Benchmark client CPU time.
    pub client: Duration,
    /// Operations the server handled in the phase.
    pub operations: usize,
    /// What one operation is ("request", "delivered event").
    pub unit: &'static str,
}

impl CpuUse {
    fn text(&self) -> String {
        let per_op = if self.operations > 0 {
            format!(
                " ({:.0} µs/{})",
                self.server.as_secs_f64() * 1e6 / self.operations as f64,
                self.unit
            )
        } else {
            String::new()
        };
        format!(
            "server {:.2} s{per_op}, bench clients {:.2} s",
            self.server.as_secs_f64(),
            self.client.as_secs_f64()
        )
    }
}

/// Update churn and the data directory it leaves.
#[derive(Debug, Clone)]
pub struct ChurnReport {
    /// Objects updated round robin.
    pub objects: usize,
    /// The updates.
    pub updates: WriteResult,
    /// Size of `<data-dir>/db` before the churn.
    pub db_before: u64,
    /// Right after the churn.
    pub db_after: u64,
    /// After a few idle seconds (background snapshots done).
    pub db_settled: u64,
    /// ConfigMaps in the store after the churn.
    pub live_items: usize,
    /// Sum of their JSON sizes.
    pub live_bytes: u64,
}

/// Everything `rkube bench api` measured.
#[derive(Debug, Clone, Default)]
pub struct ApiReport {
    /// When the run started, formatted.
    pub date: String,
    /// The machine.
    pub machine: MachineInfo,
    /// rkube's version.
    pub version: String,
    /// Concurrent clients for creates and churn.
    pub clients: usize,
    /// Spawn to ready, fresh data directory, one per run.
    pub startup_fresh: Vec<Duration>,
    /// Spawn to ready when restarting on the data directory after the run.
    pub startup_restart: Option<Duration>,
    /// Resident memory.
    pub rss: RssReport,
    /// Concurrent creates.
    pub creates: Option<WriteResult>,
    /// Watch delivery.
    pub watch: Option<WatchResult>,
    /// Update churn.
    pub churn: Option<ChurnReport>,
    /// CPU used during the creates.
    pub creates_cpu: Option<CpuUse>,
    /// CPU used during the watch measurement (from opening the watches to the last delivery).
    pub watch_cpu: Option<CpuUse>,
    /// CPU used during the churn updates.
    pub churn_cpu: Option<CpuUse>,
    /// Phases that failed.
    pub errors: Vec<String>,
}

/// One line of the results table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What was measured.
    pub metric: String,
    /// The measurement.
    pub value: String,
    /// The aim, or empty.
    pub aim: String,
    /// Whether the aim was met, when there is one.
    pub met: Option<bool>,
}

fn row(metric: impl Into<String>, value: impl Into<String>) -> Row {
    Row {
        metric: metric.into(),
        value: value.into(),
        aim: String::new(),
        met: None,
    }
}

fn aimed(metric: impl Into<String>, value: impl Into<String>, aim: &str, met: bool) -> Row {
    Row {
        metric: metric.into(),
        value: value.into(),
        aim: aim.into(),
        met: Some(met),
    }
}

/// A duration in milliseconds with a precision that suits its size.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Bytes in MiB.
pub fn format_mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / MIB)
}

fn latency_text(summary: &LatencySummary) -> String {
    format!(
        "p50 {} / p99 {} / max {}",
        format_duration(summary.p50),
        format_duration(summary.p99),
        format_duration(summary.max)
    )
}

fn failures_text(result: &WriteResult) -> String {
    if result.failed == 0 {
        String::new()
    } else {
        format!(" ({} failed)", result.failed)
    }
}

impl ApiReport {
    /// The results table, shared by both renderings.
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        if let Some(ready) = median(&self.startup_fresh) {
            let all: Vec<String> = self
                .startup_fresh
                .iter()
                .map(|d| format_duration(*d))
                .collect();
            rows.push(aimed(
                format!(
                    "ready after start, fresh dir (median of {})",
                    self.startup_fresh.len()
                ),
                format!("{} [{}]", format_duration(ready), all.join(", ")),
                "< 500 ms",
                ready < AIM_READY,
            ));
        }
        if let Some(restart) = self.startup_restart {
            rows.push(aimed(
                "ready after restart on the data dir",
                format_duration(restart),
                "< 500 ms",
                restart < AIM_READY,
            ));
        }
        if let Some(ready) = self.rss.ready {
            rows.push(row("RSS right after ready", format_mib(ready)));
        }
        if let Some(idle) = self.rss.idle {
            rows.push(aimed(
                "RSS idle (3 s after ready)",
                format_mib(idle),
                "< 30 MiB",
                idle < AIM_IDLE_RSS_BYTES,
            ));
        }
        if let Some(after) = self.rss.after_creates {
            rows.push(row("RSS after the creates", format_mib(after)));
            if let Some(later) = self.rss.after_load_idle {
                let grew = later.saturating_sub(after);
                rows.push(aimed(
                    "RSS after 10 s idle after load",
                    format!(
                        "{} ({:+.1} MiB)",
                        format_mib(later),
                        (later as f64 - after as f64) / MIB
                    ),
                    "flat (≤ +1 MiB)",
                    grew <= FLAT_RSS_TOLERANCE_BYTES,
                ));
            }
        }
        if let Some(restart) = self.rss.after_restart {
            rows.push(row(
                "RSS after restart on the data dir",
                format_mib(restart),
            ));
        }
        if let Some(creates) = &self.creates {
            let rate = rate_per_second(creates.succeeded, creates.elapsed);
            rows.push(aimed(
                format!(
                    "creates/s ({} clients, {} ConfigMaps of ~1 KiB)",
                    self.clients, creates.succeeded
                ),
                format!("{rate:.0}{}", failures_text(creates)),
                "≥ 2000",
                rate >= AIM_CREATES_PER_SECOND && creates.failed == 0,
            ));
            if let Some(latency) = &creates.latency {
                rows.push(aimed(
                    "create latency",
                    latency_text(latency),
                    "p99 < 20 ms",
                    latency.p99 < AIM_CREATE_P99,
                ));
            }
            if let Some(cpu) = &self.creates_cpu {
                rows.push(row("CPU during the creates", cpu.text()));
            }
        }
        if let Some(watch) = &self.watch {
            let expected = watch.plan.watchers * watch.created;
            rows.push(aimed(
                format!(
                    "watch events delivered ({} watchers on {} connections x {} creates at {}/s)",
                    watch.plan.watchers,
                    watch.plan.connections,
                    watch.created,
                    watch.plan.rate_per_second
                ),
                format!("{} of {expected}", watch.delivered),
                "all",
                watch.delivered == expected && watch.created == watch.plan.events,
            ));
            if let Some(latency) = &watch.latency {
                rows.push(row(
                    "watch delivery latency (create sent → event received)",
                    latency_text(latency),
                ));
            }
            rows.push(row(
                "time to establish all watches",
                format_duration(watch.setup),
            ));
            if let Some(cpu) = &self.watch_cpu {
                rows.push(row("CPU during the watch measurement", cpu.text()));
            }
        }
        if let Some(churn) = &self.churn {
            let rate = rate_per_second(churn.updates.succeeded, churn.updates.elapsed);
            rows.push(row(
                format!(
                    "updates/s (PUT + merge-PATCH over {} objects)",
                    churn.objects
                ),
                format!("{rate:.0}{}", failures_text(&churn.updates)),
            ));
            if let Some(latency) = &churn.updates.latency {
                rows.push(row("update latency", latency_text(latency)));
            }
            if let Some(cpu) = &self.churn_cpu {
                rows.push(row("CPU during the updates", cpu.text()));
            }
            rows.push(row(
                "data dir (db) before / after churn / settled",
                format!(
                    "{} / {} / {}",
                    format_mib(churn.db_before),
                    format_mib(churn.db_after),
                    format_mib(churn.db_settled)
                ),
            ));
            let ratio = if churn.live_bytes > 0 {
                churn.db_settled as f64 / churn.live_bytes as f64
            } else {
                0.0
            };
            rows.push(row(
                format!(
                    "live ConfigMap JSON ({} objects); settled db / live",
                    churn.live_items
                ),
                format!("{}; {ratio:.2}x", format_mib(churn.live_bytes)),
            ));
        }
        rows
    }

    /// The report for a terminal.
    pub fn human(&self) -> String {
        let rows = self.rows();
        let width = rows
            .iter()
            .map(|r| r.metric.chars().count())
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        let _ = writeln!(
            out,
            "rkube bench api — rkube {} — {}",
            self.version, self.date
        );
        let _ = writeln!(out, "{}", self.machine.describe());
        let _ = writeln!(
            out,
            "every request authenticated with a client certificate over TLS (HTTP/2); writes fsync'd"
        );
        let _ = writeln!(out);
        for r in &rows {
            let verdict = match r.met {
                Some(true) => format!("  [ok: {}]", r.aim),
                Some(false) => format!("  [MISSED: {}]", r.aim),
                None => String::new(),
            };
            let pad = width - r.metric.chars().count();
            let _ = writeln!(out, "{}{}  {}{verdict}", r.metric, " ".repeat(pad), r.value);
        }
        self.append_notes(&mut out);
        out
    }

    /// A markdown section to append to a results file.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## rkube bench api — {}", self.date);
        let _ = writeln!(out);
        let _ = writeln!(out, "rkube {}; {}.", self.version, self.machine.describe());
        let _ = writeln!(
            out,
            "Every request authenticated (client certificate, TLS, HTTP/2); every acknowledged write fsync'd."
        );
        let _ = writeln!(out);
        let _ = writeln!(out, "| Metric | Result | Aim | Met |");
        let _ = writeln!(out, "|---|---|---|---|");
        for r in self.rows() {
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {met} |",
                escape_cell(&r.metric),
                escape_cell(&r.value),
                escape_cell(&r.aim)
            );
        }
        self.append_notes(&mut out);
        let _ = writeln!(out);
        out
    }

    fn append_notes(&self, out: &mut String) {
        let mut notes: Vec<String> = self.errors.clone();
        if let Some(e) = self.creates.as_ref().and_then(|c| c.first_error.as_ref()) {
            notes.push(format!("first create failure: {e}"));
        }
        if let Some(e) = self.watch.as_ref().and_then(|w| w.first_error.as_ref()) {
            notes.push(format!("first watch failure: {e}"));
        }
        if let Some(e) = self
            .churn
            .as_ref()
            .and_then(|c| c.updates.first_error.as_ref())
        {
            notes.push(format!("first update failure: {e}"));
        }
        if !notes.is_empty() {
            let _ = writeln!(out);
            for note in notes {
                let _ = writeln!(out, "- {}", truncate(&note, 300));
            }
        }
    }
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max_chars).collect::<String>())
    }
}

/// `time` as `YYYY-MM-DD HH:MM UTC`.
pub fn format_utc(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        (rest % 3600) / 60
    )
}

/// Gregorian (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn sample_report() -> ApiReport {
        ApiReport {
            date: "2026-11-22 05:00 UTC".into(),
            machine: MachineInfo {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                memory_bytes: 4 << 30,
                kernel: "6.1.0".into(),
                filesystem: "ext4".into(),
            },
            version: "0.1.0".into(),
            clients: 16,
            startup_fresh: vec![ms(120), ms(100), ms(700)],
            startup_restart: Some(ms(90)),
            rss: RssReport {
                ready: Some(10 << 20),
                idle: Some(12 << 20),
                after_creates: Some(40 << 20),
                after_load_idle: Some(42 << 20),
                after_restart: None,
            },
            creates: Some(WriteResult {
                succeeded: 10_000,
                failed: 0,
                first_error: None,
                elapsed: Duration::from_secs(4),
                latency: Some(LatencySummary {
                    count: 10_000,
                    p50: ms(5),
                    p99: ms(25),
                    max: ms(40),
                }),
            }),
            watch: None,
            churn: None,
            creates_cpu: Some(CpuUse {
                server: ms(2000),
                client: ms(500),
                operations: 10_000,
                unit: "request",
            }),
            watch_cpu: None,
            churn_cpu: None,
            errors: vec!["churn: connection refused".into()],
        }
    }

    #[test]
    fn rows_judge_the_aims() {
        let rows = sample_report().rows();
        let find = |prefix: &str| rows.iter().find(|r| r.metric.starts_with(prefix)).cloned();
        let ready = find("ready after start").unwrap_or_else(|| panic!("no ready row in {rows:?}"));
        assert_eq!(ready.value, "120.0 ms [120.0 ms, 100.0 ms, 700.0 ms]");
        assert_eq!(ready.met, Some(true));
        assert_eq!(find("RSS idle (3 s").map(|r| r.met), Some(Some(true)));
        let flat = find("RSS after 10 s").unwrap_or_else(|| panic!("no flat row"));
        assert_eq!(flat.met, Some(false));
        assert_eq!(flat.value, "42.0 MiB (+2.0 MiB)");
        let creates = find("creates/s").unwrap_or_else(|| panic!("no creates row"));
        assert_eq!((creates.value.as_str(), creates.met), ("2500", Some(true)));
        let latency = find("create latency").unwrap_or_else(|| panic!("no latency row"));
        assert_eq!(latency.value, "p50 5.00 ms / p99 25.0 ms / max 40.0 ms");
        assert_eq!(latency.met, Some(false));
        assert!(find("watch").is_none());
        let cpu = find("CPU during the creates").unwrap_or_else(|| panic!("no cpu row"));
        assert_eq!(
            cpu.value,
            "server 2.00 s (200 µs/request), bench clients 0.50 s"
        );
    }

    #[test]
    fn markdown_has_a_table_and_notes() {
        let markdown = sample_report().markdown();
        assert!(markdown.starts_with("## rkube bench api — 2026-11-22 05:00 UTC\n"));
        assert!(markdown.contains("| Metric | Result | Aim | Met |\n|---|---|---|---|\n"));
        assert!(markdown.contains(
            "| create latency | p50 5.00 ms / p99 25.0 ms / max 40.0 ms | p99 < 20 ms | **no** |"
        ));
        assert!(markdown.contains("2 CPUs (Test CPU), 4.0 GiB memory, Linux 6.1.0, data on ext4"));
        assert!(markdown.contains("- churn: connection refused"));
        let human = sample_report().human();
        assert!(human.contains("[MISSED: p99 < 20 ms]"));
        assert!(human.contains("[ok: ≥ 2000]"));
    }

    #[test]
    fn formats_durations_bytes_and_dates() {
        assert_eq!(format_duration(Duration::from_micros(1234)), "1.23 ms");
        assert_eq!(format_duration(ms(250)), "250.0 ms");
        assert_eq!(format_duration(ms(2500)), "2.50 s");
        assert_eq!(format_mib(3 << 19), "1.5 MiB");
        assert_eq!(format_utc(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        assert_eq!(
            format_utc(UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_723)),
            "2000-02-29 01:02 UTC"
        );
        assert_eq!(
            format_utc(UNIX_EPOCH + Duration::from_secs(1_795_326_000)),
            "2026-11-22 05:40 UTC"
        );
        assert_eq!(escape_cell("a|b"), "a\\|b");
    }

    #[test]
    fn finds_the_file_system_of_a_path() {
        let mounts = "/dev/vda / ext4 rw 0 0\ntmpfs /tmp tmpfs rw 0 0\nproc /proc proc rw 0 0\n";
        assert_eq!(
            filesystem_of(mounts, Path::new("/tmp/x")),
            Some("tmpfs".into())
        );
        assert_eq!(
            filesystem_of(mounts, Path::new("/work/main")),
            Some("ext4".into())
        );
        assert_eq!(
            filesystem_of(mounts, Path::new("/tmpfoo")),
            Some("ext4".into())
        );
        assert_eq!(filesystem_of("", Path::new("/")), None);
    }
}
