//! Latency statistics: nearest-rank percentiles over recorded durations.

use std::time::Duration;

/// Summary of a set of latencies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LatencySummary {
    /// How many samples were recorded.
    pub count: usize,
    /// Median (nearest rank).
    pub p50: Duration,
    /// 99th percentile (nearest rank).
    pub p99: Duration,
    /// Slowest sample.
    pub max: Duration,
}

impl LatencySummary {
    /// Summarises `samples` (sorted in place); `None` when there are none.
    pub fn from_samples(samples: &mut [Duration]) -> Option<LatencySummary> {
        samples.sort_unstable();
        Some(LatencySummary {
            count: samples.len(),
            p50: percentile_of_sorted(samples, 50.0)?,
            p99: percentile_of_sorted(samples, 99.0)?,
            max: *samples.last()?,
        })
    }
}

/// The `p`th percentile (0 < p <= 100) of sorted `samples` by the nearest-rank method: the
/// smallest sample such that at least `p` percent of the samples are less than or equal to it.
pub fn percentile_of_sorted(samples: &[Duration], p: f64) -> Option<Duration> {
    if samples.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples.get(rank.clamp(1, samples.len()) - 1).copied()
}

/// The median of a few durations (sorted copy; the lower middle for an even count).
pub fn median(samples: &[Duration]) -> Option<Duration> {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    percentile_of_sorted(&sorted, 50.0)
}

/// Operations per second.
pub fn rate_per_second(operations: usize, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        operations as f64 / secs
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(
            percentile_of_sorted(&sorted, 50.0),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            percentile_of_sorted(&sorted, 99.0),
            Some(Duration::from_millis(99))
        );
        assert_eq!(
            percentile_of_sorted(&sorted, 100.0),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            percentile_of_sorted(&sorted, 0.5),
            Some(Duration::from_millis(1))
        );
        let few = ms(&[10, 20, 30]);
        assert_eq!(
            percentile_of_sorted(&few, 50.0),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            percentile_of_sorted(&few, 99.0),
            Some(Duration::from_millis(30))
        );
    }

    #[test]
    fn percentile_rejects_empty_and_out_of_range() {
        assert_eq!(percentile_of_sorted(&[], 50.0), None);
        let one = ms(&[7]);
        assert_eq!(percentile_of_sorted(&one, 0.0), None);
        assert_eq!(percentile_of_sorted(&one, 101.0), None);
        assert_eq!(percentile_of_sorted(&one, f64::NAN), None);
        assert_eq!(
            percentile_of_sorted(&one, 99.9),
            Some(Duration::from_millis(7))
        );
    }

    #[test]
    fn summary_sorts_and_summarises() {
        let mut samples = ms(&[5, 1, 4, 2, 3]);
        let summary = LatencySummary::from_samples(&mut samples);
        assert_eq!(
            summary,
            Some(LatencySummary {
                count: 5,
                p50: Duration::from_millis(3),
                p99: Duration::from_millis(5),
                max: Duration::from_millis(5),
            })
        );
        assert_eq!(LatencySummary::from_samples(&mut []), None);
    }

    #[test]
    fn median_and_rate() {
        assert_eq!(median(&ms(&[9, 1, 5])), Some(Duration::from_millis(5)));
        assert_eq!(median(&ms(&[4, 1, 3, 2])), Some(Duration::from_millis(2)));
        assert_eq!(median(&[]), None);
        assert_eq!(rate_per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(rate_per_second(5, Duration::ZERO), 0.0);
    }
}
