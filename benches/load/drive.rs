//! The load generator: `concurrency` workers take request numbers from a
//! shared counter until `count` requests were sent or `limit` has passed,
//! and record each request's latency. Every run is bounded in both.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one run measured.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Requests that got the expected answer.
    pub ok: usize,
    /// Requests that did not (counted, never hidden).
    pub errors: usize,
    pub elapsed: Duration,
    /// Latencies of all requests, sorted.
    pub latencies: Vec<Duration>,
}

impl Stats {
    /// Successful requests per second.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile (0..=1) of the latencies.
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.latencies.len() as f64 - 1.0) * q).round() as usize;
        self.latencies[rank.min(self.latencies.len() - 1)]
    }

    pub fn p50_ms(&self) -> f64 {
        self.quantile(0.50).as_secs_f64() * 1e3
    }

    pub fn p99_ms(&self) -> f64 {
        self.quantile(0.99).as_secs_f64() * 1e3
    }
}

/// Sends up to `count` requests with `concurrency` workers for at most
/// `limit`; `request(i)` sends request `i` and says whether it succeeded.
pub async fn drive<F, Fut>(concurrency: usize, count: usize, limit: Duration, request: F) -> Stats
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (request, next) = (request.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut ok, mut errors) = (0, 0);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count || started.elapsed() >= limit {
                    break;
                }
                let sent = Instant::now();
                if request(i).await {
                    ok += 1;
                } else {
                    errors += 1;
                }
                seen.push(sent.elapsed());
            }
            (ok, errors, seen)
        }));
    }
    let mut stats = Stats::default();
    for worker in workers {
        let (ok, errors, seen) = worker.await.expect("worker");
        stats.ok += ok;
        stats.errors += errors;
        stats.latencies.extend(seen);
    }
    stats.elapsed = started.elapsed();
    stats.latencies.sort();
    stats
}
