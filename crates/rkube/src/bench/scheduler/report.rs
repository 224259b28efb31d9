//! What `rkube bench scheduler` measured, and its human and markdown renderings.

use std::fmt::Write as _;
use std::time::Duration;

use super::pods::Scenario;
use crate::bench::report::{MachineInfo, format_duration, format_mib};
use crate::bench::stats::LatencySummary;

/// One scenario against one fresh server.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// What the pods asked for.
    pub scenario: Scenario,
    /// Simulated nodes.
    pub nodes: usize,
    /// Pods to create.
    pub pods: usize,
    /// Pods per anti-affinity or spread group.
    pub group_size: usize,
    /// From the server's spawn until all nodes were Ready.
    pub nodes_ready_after: Option<Duration>,
    /// Creates answered 2xx.
    pub created: usize,
    /// Creates that failed.
    pub create_failures: usize,
    /// From the first create sent to the last create answered.
    pub creates_elapsed: Option<Duration>,
    /// Pods seen bound.
    pub bound: usize,
    /// Bind seen − create sent.
    pub latency: Option<LatencySummary>,
    /// From the first create sent to the last binding seen.
    pub span: Option<Duration>,
    /// Pods bound per second over `span`.
    pub pods_per_second: Option<f64>,
    /// Wall time of the measured phase (first create to last binding, or to the timeout).
    pub phase: Duration,
    /// Server CPU time (user + system) over the phase.
    pub server_cpu: Option<Duration>,
    /// This benchmark's own CPU time over the phase (it shares the machine).
    pub client_cpu: Option<Duration>,
    /// Busy CPU time of the whole machine over the phase (server, benchmark and anything else
    /// sharing the kernel).
    pub machine_cpu: Option<Duration>,
    /// Server RSS right before the first create.
    pub rss_before: Option<u64>,
    /// Largest server RSS sampled during the phase.
    pub rss_peak: Option<u64>,
    /// Server VmHWM at the end (peak over the process's life, node setup included).
    pub rss_high_water: Option<u64>,
    /// Server RSS at the end of the phase.
    pub rss_end: Option<u64>,
    /// Whether the timeout ended the phase before every created pod was bound.
    pub timed_out: bool,
    /// Failures and oddities.
    pub notes: Vec<String>,
}

impl ScenarioResult {
    /// Server CPU time as a percentage of the phase's wall time (100% = one core).
    pub fn server_cpu_percent(&self) -> Option<f64> {
        let cpu = self.server_cpu?;
        (!self.phase.is_zero()).then(|| 100.0 * cpu.as_secs_f64() / self.phase.as_secs_f64())
    }

    /// CPU time used over the phase by neither the server nor this benchmark (other work on a
    /// shared machine: noise in the measurement).
    pub fn other_cpu(&self) -> Option<Duration> {
        Some(
            self.machine_cpu?
                .saturating_sub(self.server_cpu?)
                .saturating_sub(self.client_cpu?),
        )
    }

    fn other_cpu_text(&self) -> String {
        match self.other_cpu() {
            Some(other) if !self.phase.is_zero() => format!(
                "{:.1} s ({:.0}% of wall)",
                other.as_secs_f64(),
                100.0 * other.as_secs_f64() / self.phase.as_secs_f64()
            ),
            Some(other) => format!("{:.1} s", other.as_secs_f64()),
            None => "-".into(),
        }
    }

    fn title(&self) -> String {
        format!(
            "{} — {} nodes × {} pods",
            self.scenario.name(),
            self.nodes,
            self.pods
        )
    }

    fn bound_text(&self) -> String {
        let mut text = format!("{} of {}", self.bound, self.pods);
        if self.created != self.pods {
            let _ = write!(text, " ({} created)", self.created);
        }
        if self.timed_out {
            text.push_str(" — timed out");
        }
        text
    }

    fn rate_text(&self) -> String {
        self.pods_per_second
            .map(|r| format!("{r:.0}"))
            .unwrap_or_else(|| "-".into())
    }

    fn cpu_text(&self) -> String {
        match (self.server_cpu, self.server_cpu_percent()) {
            (Some(cpu), Some(percent)) => {
                format!("{:.1} s ({percent:.0}% of wall)", cpu.as_secs_f64())
            }
            (Some(cpu), None) => format!("{:.1} s", cpu.as_secs_f64()),
            _ => "-".into(),
        }
    }

    fn rss_text(&self) -> String {
        let mib = |v: Option<u64>| v.map(format_mib).unwrap_or_else(|| "-".into());
        format!(
            "{} / {} / {}",
            mib(self.rss_before),
            mib(self.rss_peak),
            mib(self.rss_end)
        )
    }

    fn latency_cells(&self) -> [String; 3] {
        match &self.latency {
            Some(l) => [l.p50, l.p99, l.max].map(format_duration),
            None => ["-".into(), "-".into(), "-".into()],
        }
    }

    /// The lines of the human report for this scenario.
    fn human_lines(&self) -> Vec<(String, String)> {
        let [p50, p99, max] = self.latency_cells();
        let mut lines = vec![
            ("pods".to_string(), self.scenario.describe(self.group_size)),
            (
                "nodes Ready after".into(),
                self.nodes_ready_after
                    .map(format_duration)
                    .unwrap_or_else(|| "-".into()),
            ),
            ("pods bound".into(), self.bound_text()),
            (
                "creates".into(),
                match self.creates_elapsed {
                    Some(elapsed) => format!(
                        "{} ok, {} failed in {}",
                        self.created,
                        self.create_failures,
                        format_duration(elapsed)
                    ),
                    None => format!("{} ok, {} failed", self.created, self.create_failures),
                },
            ),
            (
                "pods/s (first create → last bind)".into(),
                match self.span {
                    Some(span) => format!(
                        "{} ({} pods in {})",
                        self.rate_text(),
                        self.bound,
                        format_duration(span)
                    ),
                    None => self.rate_text(),
                },
            ),
            (
                "latency create sent → bind seen".into(),
                format!("p50 {p50} / p99 {p99} / max {max}"),
            ),
            ("server CPU over the phase".into(), self.cpu_text()),
            ("server RSS before / peak / end".into(), self.rss_text()),
        ];
        if let Some(hwm) = self.rss_high_water {
            lines.push(("server VmHWM (life of the process)".into(), format_mib(hwm)));
        }
        if let Some(client) = self.client_cpu {
            lines.push((
                "bench client CPU over the phase".into(),
                format!("{:.1} s", client.as_secs_f64()),
            ));
        }
        lines.push(("other CPU use on the machine".into(), self.other_cpu_text()));
        lines
    }
}

/// Everything one `rkube bench scheduler` run measured.
#[derive(Debug, Clone)]
pub struct SchedulerReport {
    /// When the run started, formatted.
    pub date: String,
    /// The machine.
    pub machine: MachineInfo,
    /// rkube's version and build.
    pub version: String,
    /// Concurrent creating clients.
    pub clients: usize,
    /// The per-scenario timeout.
    pub timeout: Duration,
    /// One result per scenario that got as far as creating pods.
    pub results: Vec<ScenarioResult>,
    /// Scenarios that failed before measuring.
    pub errors: Vec<String>,
}

impl SchedulerReport {
    fn machine_text(&self) -> String {
        format!(
            "{} CPUs ({}), {:.1} GiB memory, Linux {}",
            self.machine.cpus,
            self.machine.cpu_model,
            self.machine.memory_bytes as f64 / (1024.0 * 1024.0 * 1024.0),
            self.machine.kernel
        )
    }

    fn method_text(&self) -> String {
        format!(
            "Fresh `rkube server --simulated-nodes N` per scenario (scheduler and node simulator in \
             the process); measured once all N nodes were Ready. Pods created by {} concurrent \
             clients (HTTP/2, client certificates); latency from just before each create is sent \
             to the first pod watch event with spec.nodeName set; timeout {} s per scenario.",
            self.clients,
            self.timeout.as_secs()
        )
    }

    /// The report for a terminal.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "rkube bench scheduler — rkube {} — {}",
            self.version, self.date
        );
        let _ = writeln!(out, "{}", self.machine_text());
        let _ = writeln!(out, "{}", self.method_text());
        for result in &self.results {
            let _ = writeln!(out);
            let _ = writeln!(out, "{}", result.title());
            let lines = result.human_lines();
            let width = lines
                .iter()
                .map(|(k, _)| k.chars().count())
                .max()
                .unwrap_or(0);
            for (key, value) in lines {
                let pad = width - key.chars().count();
                let _ = writeln!(out, "  {key}{}  {value}", " ".repeat(pad));
            }
            for note in &result.notes {
                let _ = writeln!(out, "  note: {}", truncate(note, 300));
            }
        }
        for error in &self.errors {
            let _ = writeln!(out);
            let _ = writeln!(out, "failed: {}", truncate(error, 500));
        }
        out
    }

    /// A markdown section to append to a results file.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## rkube bench scheduler — {}", self.date);
        let _ = writeln!(out);
        let _ = writeln!(out, "rkube {}; {}.", self.version, self.machine_text());
        let _ = writeln!(out, "{}", self.method_text());
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| Scenario | Nodes | Pods bound | Pods/s | p50 | p99 | max | Server CPU | Server RSS before / peak / end | Nodes Ready after | Other CPU on the machine |"
        );
        let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
        for r in &self.results {
            let [p50, p99, max] = r.latency_cells();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {p50} | {p99} | {max} | {} | {} | {} | {} |",
                r.scenario.name(),
                r.nodes,
                escape_cell(&r.bound_text()),
                r.rate_text(),
                r.cpu_text(),
                r.rss_text(),
                r.nodes_ready_after
                    .map(format_duration)
                    .unwrap_or_else(|| "-".into()),
                r.other_cpu_text(),
            );
        }
        let mut notes: Vec<String> = Vec::new();
        for r in &self.results {
            if r.scenario != Scenario::Plain {
                notes.push(format!(
                    "{}: {}",
                    r.scenario.name(),
                    r.scenario.describe(r.group_size)
                ));
            }
            notes.extend(
                r.notes
                    .iter()
                    .map(|n| format!("{}: {}", r.title(), truncate(n, 300))),
            );
        }
        notes.extend(
            self.errors
                .iter()
                .map(|e| format!("failed: {}", truncate(e, 500))),
        );
        if !notes.is_empty() {
            let _ = writeln!(out);
            for note in notes {
                let _ = writeln!(out, "- {}", escape_cell(&note));
            }
        }
        let _ = writeln!(out);
        out
    }
}

fn escape_cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max_chars).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn sample_result() -> ScenarioResult {
        ScenarioResult {
            scenario: Scenario::AntiAffinity,
            nodes: 5000,
            pods: 10_000,
            group_size: 100,
            nodes_ready_after: Some(ms(12_000)),
            created: 10_000,
            create_failures: 0,
            creates_elapsed: Some(ms(8_000)),
            bound: 9_000,
            latency: Some(LatencySummary {
                count: 9_000,
                p50: ms(1_500),
                p99: ms(4_000),
                max: ms(5_000),
            }),
            span: Some(ms(20_000)),
            pods_per_second: Some(450.0),
            phase: ms(20_000),
            server_cpu: Some(ms(30_000)),
            client_cpu: Some(ms(2_000)),
            machine_cpu: Some(ms(36_000)),
            rss_before: Some(100 << 20),
            rss_peak: Some(300 << 20),
            rss_high_water: Some(310 << 20),
            rss_end: Some(290 << 20),
            timed_out: true,
            notes: vec!["first create failure: a | b".into()],
        }
    }

    fn sample_report() -> SchedulerReport {
        SchedulerReport {
            date: "2026-01-02 03:04 UTC".into(),
            machine: MachineInfo {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                memory_bytes: 4 << 30,
                kernel: "6.1.0".into(),
                filesystem: "ext4".into(),
            },
            version: "0.1.0 (release build)".into(),
            clients: 16,
            timeout: Duration::from_secs(600),
            results: vec![sample_result()],
            errors: vec!["spread: the server exited".into()],
        }
    }

    #[test]
    fn cpu_percent_is_of_the_phase_wall_time() {
        let result = sample_result();
        assert_eq!(result.server_cpu_percent(), Some(150.0));
        let empty = ScenarioResult {
            phase: Duration::ZERO,
            ..sample_result()
        };
        assert_eq!(empty.server_cpu_percent(), None);
        assert_eq!(result.other_cpu(), Some(ms(4_000)));
    }

    #[test]
    fn markdown_has_a_row_per_scenario_and_the_notes() {
        let markdown = sample_report().markdown();
        assert!(markdown.starts_with("## rkube bench scheduler — 2026-01-02 03:04 UTC\n"));
        assert!(markdown.contains("2 CPUs (Test CPU), 4.0 GiB memory"));
        assert!(markdown.contains(
            "| anti-affinity | 5000 | 9000 of 10000 — timed out | 450 | 1.50 s | 4.00 s | 5.00 s | 30.0 s (150% of wall) | 100.0 MiB / 300.0 MiB / 290.0 MiB | 12.00 s | 4.0 s (20% of wall) |"
        ));
        assert!(markdown.contains("a \\| b"));
        assert!(markdown.contains("- failed: spread: the server exited"));
        assert!(markdown.ends_with("\n\n"));
    }

    #[test]
    fn human_report_lists_every_measurement() {
        let human = sample_report().human();
        assert!(human.contains("anti-affinity — 5000 nodes × 10000 pods"));
        assert!(human.contains("9000 of 10000 — timed out"));
        assert!(human.contains("450 (9000 pods in 20.00 s)"));
        assert!(human.contains("p50 1.50 s / p99 4.00 s / max 5.00 s"));
        assert!(human.contains("310.0 MiB"));
        assert!(human.contains("other CPU use on the machine        4.0 s (20% of wall)"));
        assert!(human.contains("failed: spread: the server exited"));
    }
}
