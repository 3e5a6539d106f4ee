//! The ratchet's steps: the chain-key step (KDF_CK), the root-key step
//! (KDF_RK), a receive that performs a DH ratchet step, and out-of-order
//! receives that need 1, 100 and 1000 skipped message keys.

mod common;

use std::hint::black_box;

use common::ThreadCpuTime;
use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use sealwire::hazmat::RootKey;
use sealwire_benches::{chain_key, new_turn, out_of_order};

/// A copy of a session for one measured receive (`Session` is not `Clone`):
/// made in the batch set-up, outside the measurement.
fn copy(session: &sealwire::Session) -> sealwire::Session {
    sealwire::Session::from_bytes(&session.to_bytes())
        .expect("a session restores from its own bytes")
}

fn steps(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("ratchet");
    let ck = chain_key();
    group.bench_function("chain_step", |b| {
        b.iter(|| sealwire::hazmat::chain_step(black_box(&ck)));
    });
    let rk = RootKey::from_bytes([0x3c; 32]);
    let dh = [0x77u8; 32];
    group.bench_function("root_step", |b| {
        b.iter(|| sealwire::hazmat::root_step(black_box(&rk), black_box(&dh)));
    });
    // Bob opens the first 64-byte message of Alice's new turn: two X25519,
    // one key generation, two KDF_RK, one chain step and the open.
    let (bob, message, rng) = new_turn(4);
    group.bench_function("dh_ratchet_step_receive", |b| {
        b.iter_batched(
            || (copy(&bob), message.clone(), rng.clone()),
            |(mut bob, mut message, mut rng)| {
                bob.decrypt_in_place_with_rng(&mut message, &mut rng)
                    .unwrap()
                    .len()
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn skipped(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("out_of_order");
    for skipped in [1usize, 100, 1000] {
        let (bob, late) = out_of_order(6, skipped);
        let mut rng = sealwire_benches::rng(7);
        group.bench_function(BenchmarkId::new("skip_then_open", skipped), |b| {
            b.iter_batched(
                || (copy(&bob), late.clone()),
                |(mut bob, mut late)| {
                    let len = bob
                        .decrypt_in_place_with_rng(&mut late, &mut rng)
                        .unwrap()
                        .len();
                    (len, bob)
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
    targets = steps, skipped
}
criterion_main!(benches);
