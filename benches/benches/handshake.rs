//! X3DH: the initiator (bundle verification, X3DH, first ratchet key and
//! the first message) and the responder (X3DH, DH ratchet step, opening the
//! first message), each with and without a one-time prekey.

mod common;

use common::ThreadCpuTime;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use sealwire::{IdentityKeyPair, initiate_with_rng, respond_with_rng};
use sealwire_benches::{Responder, rng};

fn x3dh(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("x3dh");
    for (label, with_opk) in [("with_opk", true), ("without_opk", false)] {
        let mut setup_rng = rng(8);
        let alice = IdentityKeyPair::generate_with_rng(&mut setup_rng);
        let bob = Responder::new(&mut setup_rng, with_opk);

        let mut draw = rng(9);
        group.bench_function(format!("initiate_{label}"), |b| {
            b.iter(|| initiate_with_rng(&alice, &bob.bundle, b"hello", &mut draw).unwrap());
        });

        let (_, initial) = initiate_with_rng(&alice, &bob.bundle, b"hello", &mut draw).unwrap();
        // The responder deletes the one-time prekey it used: each iteration
        // gets its own copy of the store (not timed).
        group.bench_function(format!("respond_{label}"), |b| {
            b.iter_batched(
                || bob.store.clone(),
                |mut store| {
                    respond_with_rng(&bob.identity, &mut store, &initial, &mut draw).unwrap()
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = x3dh
}
criterion_main!(benches);
