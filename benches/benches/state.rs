//! Session persistence: `Session::to_bytes` and `Session::from_bytes` for a
//! fresh session and for one holding 1000 skipped message keys.

mod common;

use std::hint::black_box;

use common::ThreadCpuTime;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealwire::Session;
use sealwire_benches::session_with_skipped_keys;

fn state(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("state");
    for skipped in [0usize, 1000] {
        let session = session_with_skipped_keys(10, skipped);
        let bytes = session.to_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("to_bytes", skipped), |b| {
            b.iter(|| black_box(&session).to_bytes());
        });
        group.bench_function(BenchmarkId::new("from_bytes", skipped), |b| {
            b.iter(|| Session::from_bytes(black_box(&bytes)).unwrap());
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = state
}
criterion_main!(benches);
