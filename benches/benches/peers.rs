//! The peers, at the same sizes as `seal.rs` (feature `peers`):
//!
//! - snow's transport write and read after a Noise_XX_25519_ChaChaPoly_SHA256
//!   handshake. A Noise message carries at most 65535 bytes, so 1 MiB is
//!   sent as 17 transport messages of at most 65519 plaintext bytes each.
//! - vodozemac's Olm encrypt and decrypt on an established session (after
//!   a reply, so the messages are normal, not pre-key, messages).

mod common;

use std::hint::black_box;

use common::ThreadCpuTime;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sealwire_benches::{SIZES, plaintext};
use snow::{Builder, TransportState};
use vodozemac::olm::{Account, OlmMessage, Session, SessionConfig};

const NOISE_PARAMS: &str = "Noise_XX_25519_ChaChaPoly_SHA256";
const NOISE_MAX_MESSAGE: usize = 65535;
const NOISE_TAG: usize = 16;
const NOISE_MAX_PAYLOAD: usize = NOISE_MAX_MESSAGE - NOISE_TAG;

/// Runs the XX handshake and returns (initiator, responder) transports.
fn noise_pair() -> (TransportState, TransportState) {
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse().unwrap();
    let init_key = Builder::new(params.clone()).generate_keypair().unwrap();
    let resp_key = Builder::new(params.clone()).generate_keypair().unwrap();
    let mut initiator = Builder::new(params.clone())
        .local_private_key(&init_key.private)
        .unwrap()
        .build_initiator()
        .unwrap();
    let mut responder = Builder::new(params)
        .local_private_key(&resp_key.private)
        .unwrap()
        .build_responder()
        .unwrap();
    let mut message = vec![0u8; NOISE_MAX_MESSAGE];
    let mut payload = vec![0u8; NOISE_MAX_MESSAGE];
    // -> e; <- e, ee, s, es; -> s, se
    let len = initiator.write_message(&[], &mut message).unwrap();
    responder
        .read_message(&message[..len], &mut payload)
        .unwrap();
    let len = responder.write_message(&[], &mut message).unwrap();
    initiator
        .read_message(&message[..len], &mut payload)
        .unwrap();
    let len = initiator.write_message(&[], &mut message).unwrap();
    responder
        .read_message(&message[..len], &mut payload)
        .unwrap();
    (
        initiator.into_transport_mode().unwrap(),
        responder.into_transport_mode().unwrap(),
    )
}

/// Writes `plaintext` as transport messages into `out` (one buffer per
/// Noise message); returns the bytes written.
fn noise_write(sender: &mut TransportState, plaintext: &[u8], out: &mut [Vec<u8>]) -> usize {
    let mut total = 0;
    for (chunk, buffer) in plaintext.chunks(NOISE_MAX_PAYLOAD).zip(out.iter_mut()) {
        let len = sender.write_message(chunk, buffer).unwrap();
        buffer.truncate(len);
        total += len;
    }
    total
}

fn noise_buffers(size: usize) -> Vec<Vec<u8>> {
    let count = size.div_ceil(NOISE_MAX_PAYLOAD).max(1);
    vec![vec![0u8; NOISE_MAX_MESSAGE]; count]
}

/// Alice's and Bob's Olm sessions after Alice's pre-key message and Bob's
/// reply: Alice's next messages are normal messages on one chain.
fn olm_pair() -> (Session, Session) {
    let alice = Account::new();
    let mut bob = Account::new();
    bob.generate_one_time_keys(1);
    let otk = *bob.one_time_keys().values().next().unwrap();
    bob.mark_keys_as_published();
    let mut alice_session = alice
        .create_outbound_session(SessionConfig::version_1(), bob.curve25519_key(), otk)
        .unwrap();
    let first = alice_session.encrypt(b"hello").unwrap();
    let OlmMessage::PreKey(prekey) = first else {
        panic!("the first Olm message is a pre-key message");
    };
    let inbound = bob
        .create_inbound_session(SessionConfig::version_1(), alice.curve25519_key(), &prekey)
        .unwrap();
    let mut bob_session = inbound.session;
    let reply = bob_session.encrypt(b"reply").unwrap();
    assert_eq!(alice_session.decrypt(&reply).unwrap(), b"reply");
    (alice_session, bob_session)
}

fn peers_seal(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("peers_seal");
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let pt = plaintext(size);

        let (mut initiator, _) = noise_pair();
        let mut out = noise_buffers(size);
        group.bench_function(BenchmarkId::new("snow_write", size), |b| {
            b.iter(|| {
                for buffer in &mut out {
                    buffer.resize(NOISE_MAX_MESSAGE, 0);
                }
                noise_write(&mut initiator, black_box(&pt), &mut out)
            });
        });

        let (mut alice, _) = olm_pair();
        group.bench_function(BenchmarkId::new("vodozemac_encrypt", size), |b| {
            b.iter(|| alice.encrypt(black_box(&pt)).unwrap());
        });
    }
    group.finish();
}

fn peers_open(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("peers_open");
    let batch = |size: usize| {
        if size >= 1 << 20 {
            BatchSize::PerIteration
        } else {
            BatchSize::SmallInput
        }
    };
    for size in SIZES {
        group.throughput(Throughput::Bytes(size as u64));
        let pt = plaintext(size);

        let (mut initiator, mut responder) = noise_pair();
        let mut payload = vec![0u8; NOISE_MAX_MESSAGE];
        group.bench_function(BenchmarkId::new("snow_read", size), |b| {
            b.iter_batched(
                || {
                    let mut messages = noise_buffers(size);
                    noise_write(&mut initiator, &pt, &mut messages);
                    messages
                },
                |messages| {
                    let mut total = 0;
                    for message in &messages {
                        total += responder.read_message(message, &mut payload).unwrap();
                    }
                    assert_eq!(total, size);
                    messages
                },
                batch(size),
            );
        });

        let (mut alice, mut bob) = olm_pair();
        group.bench_function(BenchmarkId::new("vodozemac_decrypt", size), |b| {
            b.iter_batched(
                || alice.encrypt(&pt).unwrap(),
                |message| bob.decrypt(&message).unwrap(),
                batch(size),
            );
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = peers_seal, peers_open
}
criterion_main!(benches);
