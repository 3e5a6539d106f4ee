//! Seal and open at 64 B, 1 KiB, 16 KiB and 1 MiB: a full ratchet message,
//! the sealing core alone, and the raw ChaCha20-Poly1305 floor (with
//! Sealwire's 105-byte AAD and with none) in the same groups; with the
//! `ring` feature also ring's ChaCha20-Poly1305 (`raw_ring_aad105`), the
//! floor of Sealwire's ring backend.

mod common;

use std::hint::black_box;

use common::ThreadCpuTime;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealwire::hazmat::seal::{open_in_place, seal_in_place};
use sealwire_benches::{CoreInputs, RawInputs, SIZES, SessionPair, plaintext, raw_open, raw_seal};

fn batch_size(size: usize) -> BatchSize {
    if size >= 1 << 20 {
        BatchSize::PerIteration
    } else {
        BatchSize::SmallInput
    }
}

fn seal(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("seal");
    let core = CoreInputs::new();
    let raw = RawInputs::new();
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));

        let mut pair = SessionPair::new(1);
        let pt = plaintext(size);
        let mut out = vec![0u8; sealwire_benches::sealed_len(size)];
        group.bench_function(BenchmarkId::new("ratchet_message", size), |b| {
            b.iter(|| pair.alice.encrypt_into(black_box(&pt), &mut out).unwrap());
        });

        let mut message = core.unsealed(size);
        group.bench_function(BenchmarkId::new("sealing_core", size), |b| {
            b.iter(|| seal_in_place(&core.message_key, &core.ad, black_box(&mut message)).unwrap());
        });

        let mut body = plaintext(size);
        group.bench_function(BenchmarkId::new("raw_aead_aad105", size), |b| {
            b.iter(|| raw_seal(&raw.key, &raw.nonce, &raw.aad, black_box(&mut body)));
        });
        group.bench_function(BenchmarkId::new("raw_aead_no_aad", size), |b| {
            b.iter(|| raw_seal(&raw.key, &raw.nonce, &[], black_box(&mut body)));
        });
        #[cfg(feature = "ring")]
        group.bench_function(BenchmarkId::new("raw_ring_aad105", size), |b| {
            b.iter(|| {
                sealwire_benches::raw_ring_seal(
                    &raw.key,
                    &raw.nonce,
                    &raw.aad,
                    black_box(&mut body),
                )
            });
        });
    }
    group.finish();
}

fn open(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("open");
    let core = CoreInputs::new();
    let raw = RawInputs::new();
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));

        // Fresh messages from Alice's chain, opened by Bob in order: the
        // setup (Alice's seal) is not timed.
        let mut pair = SessionPair::new(2);
        let pt = plaintext(size);
        let mut bob_rng = sealwire_benches::rng(3);
        group.bench_function(BenchmarkId::new("ratchet_message", size), |b| {
            b.iter_batched(
                || pair.alice.encrypt(&pt).unwrap(),
                |mut message| {
                    pair.bob
                        .decrypt_in_place_with_rng(&mut message, &mut bob_rng)
                        .unwrap()
                        .len()
                },
                batch_size(size),
            );
        });

        let sealed = core.sealed(size);
        group.bench_function(BenchmarkId::new("sealing_core", size), |b| {
            b.iter_batched(
                || sealed.clone(),
                |mut message| {
                    open_in_place(&core.message_key, &core.ad, &mut message)
                        .unwrap()
                        .len()
                },
                batch_size(size),
            );
        });

        for (name, aad) in [
            ("raw_aead_aad105", &raw.aad[..]),
            ("raw_aead_no_aad", &[][..]),
        ] {
            let (body, tag) = raw.sealed(size, aad);
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_batched(
                    || body.clone(),
                    |mut body| assert!(raw_open(&raw.key, &raw.nonce, aad, &mut body, &tag)),
                    batch_size(size),
                );
            });
        }
        #[cfg(feature = "ring")]
        {
            let (body, tag) = raw.sealed(size, &raw.aad);
            let tag: [u8; 16] = tag.into();
            group.bench_function(BenchmarkId::new("raw_ring_aad105", size), |b| {
                b.iter_batched(
                    || body.clone(),
                    |mut body| {
                        assert!(sealwire_benches::raw_ring_open(
                            &raw.key, &raw.nonce, &raw.aad, &mut body, &tag
                        ))
                    },
                    batch_size(size),
                );
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = seal, open
}
criterion_main!(benches);
