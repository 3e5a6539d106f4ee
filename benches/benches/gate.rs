//! Instruction counts (gungraun + valgrind's callgrind) for the regression
//! gate: the sealing core, the full ratchet message, the chain step and the
//! X3DH handshake. Counts repeat exactly, so `benches/gate.sh` can compare a
//! change against its base commit with a tight limit (2% by default).
//!
//! Inputs are built in `setup` functions, whose instructions are not counted.

use std::hint::black_box;

use gungraun::{library_benchmark, library_benchmark_group, main};
use sealwire::hazmat::seal::{open_in_place, seal_in_place};
use sealwire::hazmat::{ChainKey, MessageKey};
use sealwire::{IdentityKeyPair, initiate_with_rng, respond_with_rng};
use sealwire_benches::{CoreInputs, Responder, SessionPair, plaintext, rng};

fn core_unsealed(size: usize) -> (CoreInputs, Vec<u8>) {
    let core = CoreInputs::new();
    let message = core.unsealed(size);
    (core, message)
}

fn core_sealed(size: usize) -> (CoreInputs, Vec<u8>) {
    let core = CoreInputs::new();
    let message = core.sealed(size);
    (core, message)
}

#[library_benchmark]
#[benches::size(args = [64, 1024, 16384], setup = core_unsealed)]
fn sealing_core_seal(input: (CoreInputs, Vec<u8>)) -> Vec<u8> {
    let (core, mut message) = input;
    seal_in_place(&core.message_key, &core.ad, black_box(&mut message)).unwrap();
    message
}

#[library_benchmark]
#[benches::size(args = [64, 1024, 16384], setup = core_sealed)]
fn sealing_core_open(input: (CoreInputs, Vec<u8>)) -> (usize, Vec<u8>) {
    let (core, mut message) = input;
    let len = open_in_place(&core.message_key, &core.ad, black_box(&mut message))
        .unwrap()
        .len();
    (len, message)
}

fn ratchet_sender(size: usize) -> (SessionPair, Vec<u8>, Vec<u8>) {
    let pair = SessionPair::new(1);
    (pair, plaintext(size), vec![0u8; size + sealwire::OVERHEAD])
}

#[library_benchmark]
#[benches::size(args = [64, 16384], setup = ratchet_sender)]
fn ratchet_message_seal(input: (SessionPair, Vec<u8>, Vec<u8>)) -> (usize, SessionPair, Vec<u8>) {
    let (mut pair, pt, mut out) = input;
    let len = pair
        .alice
        .encrypt_into(black_box(&pt), black_box(&mut out))
        .unwrap();
    (len, pair, out)
}

#[library_benchmark]
#[bench::fixed(ChainKey::from_bytes([0x5c; 32]))]
fn chain_step(chain_key: ChainKey) -> (ChainKey, MessageKey) {
    sealwire::hazmat::chain_step(black_box(&chain_key))
}

fn initiator(with_opk: bool) -> (IdentityKeyPair, Responder, rand_chacha::ChaCha20Rng) {
    // The key schedule's one-time setup happens here, not in the count.
    let _ = CoreInputs::new();
    let mut setup = rng(8);
    let alice = IdentityKeyPair::generate_with_rng(&mut setup);
    let bob = Responder::new(&mut setup, with_opk);
    (alice, bob, rng(9))
}

fn responder(with_opk: bool) -> (Responder, Vec<u8>, rand_chacha::ChaCha20Rng) {
    let (alice, bob, mut draw) = initiator(with_opk);
    let (_, initial) = initiate_with_rng(&alice, &bob.bundle, b"hello", &mut draw).unwrap();
    (bob, initial, draw)
}

#[library_benchmark]
#[bench::with_opk(args = (true), setup = initiator)]
#[bench::without_opk(args = (false), setup = initiator)]
fn x3dh_initiate(
    input: (IdentityKeyPair, Responder, rand_chacha::ChaCha20Rng),
) -> (sealwire::Session, Vec<u8>) {
    let (alice, bob, mut draw) = input;
    initiate_with_rng(&alice, black_box(&bob.bundle), b"hello", &mut draw).unwrap()
}

#[library_benchmark]
#[bench::with_opk(args = (true), setup = responder)]
#[bench::without_opk(args = (false), setup = responder)]
fn x3dh_respond(
    input: (Responder, Vec<u8>, rand_chacha::ChaCha20Rng),
) -> (sealwire::Session, Vec<u8>) {
    let (mut bob, initial, mut draw) = input;
    respond_with_rng(
        &bob.identity,
        &mut bob.store,
        black_box(&initial),
        &mut draw,
    )
    .unwrap()
}

library_benchmark_group!(
    name = sealing_core,
    benchmarks = [sealing_core_seal, sealing_core_open, ratchet_message_seal]
);
library_benchmark_group!(name = chain, benchmarks = [chain_step]);
library_benchmark_group!(name = handshake, benchmarks = [x3dh_initiate, x3dh_respond]);

main!(library_benchmark_groups = sealing_core, chain, handshake);
