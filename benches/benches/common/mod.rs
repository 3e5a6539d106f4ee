//! What the criterion benches measure: the CPU time of the benchmarking
//! thread (`CLOCK_THREAD_CPUTIME_ID` on Linux, through the `cpu-time` crate)
//! instead of wall time.
//!
//! The machines these benches run on are shared: with other jobs on the
//! same cores, wall time counts the time the bench thread waits for a core,
//! which varies from one bench to the next and skews the ratios between
//! them. CPU time leaves that wait out (cache and frequency effects of the
//! neighbours remain). Times are reported in the same units as wall time.

use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::Criterion;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Criterion measurement: CPU time of the current thread.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ThreadCpuTime;

/// Wall time's formatter serves: both values are durations.
static DURATION_FORMAT: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }

    fn end(&self, started: ThreadTime) -> Duration {
        started.elapsed()
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        DURATION_FORMAT.formatter()
    }
}

/// The criterion configuration of every bench file.
pub(crate) fn criterion() -> Criterion<ThreadCpuTime> {
    Criterion::default().with_measurement(ThreadCpuTime)
}
