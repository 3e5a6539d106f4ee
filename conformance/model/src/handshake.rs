//! The handshake property: a bundle with a bad signature or a low-order key,
//! and a forged or damaged initial message, never produce a session; a
//! rejected initial message leaves the responder's prekeys untouched.

use core::fmt;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::Index;
use sealwire::{IdentityKeyPair, OneTimePreKey, PreKeyBundle, PublicKey, SignedPreKey};

use super::driver::{Driver, KeySource, LOW_ORDER_POINTS, Parties, is_canonical, low_order_class};
use super::schedule::{Plain, plain};
use super::session::{INITIAL_PREFIX_LEN, ONE_TIME_PREKEY_ID, SIGNED_PREKEY_ID};
use super::{Property, Violation};
use sealwire_adapter::Implementation;
use sealwire_adapter::hex::Bytes;
use sealwire_adapter::{Capability, Output, PreKeySecret, Request};
use sealwire_specmodel::{Checker, ErrorClass};

/// How the attacker damages Bob's bundle.
#[derive(Clone, Debug)]
pub enum BundleFault {
    /// Flips a bit of the version, identity key, signed prekey, signature or
    /// one-time-prekey flag (everything the signature or the format binds).
    FlipBit(Index),
    /// Replaces the signed prekey with a low-order point, validly signed.
    LowOrderSignedPreKey(Index),
    /// Offers a low-order one-time prekey.
    LowOrderOneTimePreKey(Index),
    /// Cuts the bundle short.
    Truncate(Index),
    /// Appends bytes.
    Extend(Vec<u8>),
}

/// How the attacker damages Alice's initial message.
#[derive(Clone, Debug)]
pub enum InitialFault {
    /// Flips one bit anywhere.
    FlipBit(Index),
    /// Replaces the ephemeral key with a low-order point.
    LowOrderEphemeral(Index),
    /// Cuts the message short.
    Truncate(Index),
    /// Appends bytes.
    Extend(Vec<u8>),
}

/// One generated handshake case.
#[derive(Clone, Debug)]
pub struct HandshakeCase {
    /// Every private key is drawn from this seed.
    pub seed: u64,
    /// Whether the honest bundle offers a one-time prekey.
    pub one_time_prekey: bool,
    /// The first message's plaintext.
    pub plaintext: Plain,
    /// The damaged bundle Alice is offered first.
    pub bundle_fault: BundleFault,
    /// The damaged initial message Bob receives first.
    pub initial_fault: InitialFault,
}

impl fmt::Display for HandshakeCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {:#018x}, one-time prekey: {}, plaintext {:?}",
            self.seed, self.one_time_prekey, self.plaintext
        )?;
        writeln!(f, "  bundle:          {:?}", self.bundle_fault)?;
        writeln!(f, "  initial message: {:?}", self.initial_fault)
    }
}

/// Handshake cases.
pub fn handshake_case() -> impl Strategy<Value = HandshakeCase> {
    let bundle_fault = prop_oneof![
        4 => any::<Index>().prop_map(BundleFault::FlipBit),
        1 => any::<Index>().prop_map(BundleFault::LowOrderSignedPreKey),
        1 => any::<Index>().prop_map(BundleFault::LowOrderOneTimePreKey),
        1 => any::<Index>().prop_map(BundleFault::Truncate),
        1 => vec(any::<u8>(), 1..8).prop_map(BundleFault::Extend),
    ];
    let initial_fault = prop_oneof![
        4 => any::<Index>().prop_map(InitialFault::FlipBit),
        1 => any::<Index>().prop_map(InitialFault::LowOrderEphemeral),
        1 => any::<Index>().prop_map(InitialFault::Truncate),
        1 => vec(any::<u8>(), 1..8).prop_map(InitialFault::Extend),
    ];
    (
        any::<u64>(),
        any::<bool>(),
        plain(),
        bundle_fault,
        initial_fault,
    )
        .prop_map(
            |(seed, one_time_prekey, plaintext, bundle_fault, initial_fault)| HandshakeCase {
                seed,
                one_time_prekey,
                plaintext,
                bundle_fault,
                initial_fault,
            },
        )
}

// Bundle layout: version (0), IK (1..33), spk id (33..37), SPK (37..69),
// signature (69..133), opk flag (133), [opk id (134..138), OPK (138..170)].
const BUNDLE_FLAG: usize = 133;

/// The damaged bundle and the error classes allowed for it.
fn damage_bundle(
    fault: &BundleFault,
    bob: &IdentityKeyPair,
    spk: &SignedPreKey,
    opk: Option<&OneTimePreKey>,
) -> (Vec<u8>, &'static [&'static str]) {
    let honest = PreKeyBundle::new(bob, spk, opk).to_bytes();
    let ik = *bob.public().as_bytes();
    match fault {
        BundleFault::FlipBit(bit) => {
            // Bytes bound by the signature or the format (the ids are not).
            let bound: Vec<usize> = (0..33).chain(37..=BUNDLE_FLAG).collect();
            let bit = bit.index(bound.len() * 8);
            let at = bound[bit / 8];
            let mut bytes = honest;
            bytes[at] ^= 1 << (bit % 8);
            let spk: [u8; 32] = bytes[37..69].try_into().unwrap_or_default();
            let classes: &[&str] = if at == 0 || at == BUNDLE_FLAG || !is_canonical(&spk) {
                &["wire"]
            } else {
                &["handshake"]
            };
            (bytes, classes)
        }
        BundleFault::LowOrderSignedPreKey(which) => {
            let low = LOW_ORDER_POINTS[which.index(LOW_ORDER_POINTS.len())];
            let bundle = PreKeyBundle::from_parts(
                ik,
                SIGNED_PREKEY_ID,
                PublicKey::from_bytes(low),
                bob.sign(&low),
                opk.map(|k| (k.id(), *k.public())),
            );
            (bundle.to_bytes(), class_of(&low))
        }
        BundleFault::LowOrderOneTimePreKey(which) => {
            let low = LOW_ORDER_POINTS[which.index(LOW_ORDER_POINTS.len())];
            let bundle = PreKeyBundle::from_parts(
                ik,
                SIGNED_PREKEY_ID,
                *spk.public(),
                *spk.signature(),
                Some((ONE_TIME_PREKEY_ID, PublicKey::from_bytes(low))),
            );
            (bundle.to_bytes(), class_of(&low))
        }
        BundleFault::Truncate(len) => {
            let mut bytes = honest;
            bytes.truncate(len.index(bytes.len()));
            (bytes, &["wire"])
        }
        BundleFault::Extend(extra) => {
            let mut bytes = honest;
            bytes.extend_from_slice(extra);
            (bytes, &["wire"])
        }
    }
}

/// The allowed classes for a low-order key (see [`low_order_class`]).
fn class_of(low: &[u8; 32]) -> &'static [&'static str] {
    match low_order_class(low) {
        "wire" => &["wire"],
        _ => &["low_order_key"],
    }
}

/// The damaged initial message and the error classes allowed for it.
fn damage_initial(
    fault: &InitialFault,
    initial: &[u8],
    prefix: usize,
) -> (Vec<u8>, Vec<&'static str>) {
    let mut bytes = initial.to_vec();
    match fault {
        InitialFault::FlipBit(bit) => {
            let bit = bit.index(bytes.len() * 8);
            let at = bit / 8;
            bytes[at] ^= 1 << (bit % 8);
            let classes = match at {
                0 => vec!["wire"],
                // IK_A: no longer a valid key, or another identity (other SK).
                1..33 => vec!["handshake", "decryption_failed"],
                // EK_A: refused if no longer canonical, else another SK.
                33..65 => vec![key_class(&bytes[33..65])],
                // The signed prekey id: unknown.
                65..69 => vec!["handshake"],
                // The flag: 0 -> 1 takes four bytes of the ratchet message as
                // an id (wire, or an unknown one-time prekey).
                69 => match bytes[69] {
                    1 => vec!["wire", "handshake"],
                    _ => vec!["wire"],
                },
                // The one-time prekey id: unknown.
                _ if at < prefix => vec!["handshake"],
                // The ratchet message's version byte.
                _ if at == prefix => vec!["wire"],
                // N: a responder with a new chain skips up to N first.
                _ if (prefix + 37..prefix + 41).contains(&at) => {
                    let n = u32::from_be_bytes([
                        bytes[prefix + 37],
                        bytes[prefix + 38],
                        bytes[prefix + 39],
                        bytes[prefix + 40],
                    ]);
                    if n > 1000 {
                        vec!["ratchet_limit"]
                    } else {
                        vec!["decryption_failed"]
                    }
                }
                // The ratchet key: refused if no longer canonical.
                _ if (prefix + 1..prefix + 33).contains(&at) => {
                    vec![key_class(&bytes[prefix + 1..prefix + 33])]
                }
                // PN, the ciphertext or the tag.
                _ => vec!["decryption_failed"],
            };
            (bytes, classes)
        }
        InitialFault::LowOrderEphemeral(which) => {
            let low = LOW_ORDER_POINTS[which.index(LOW_ORDER_POINTS.len())];
            bytes[33..65].copy_from_slice(&low);
            (bytes, vec![low_order_class(&low)])
        }
        InitialFault::Truncate(len) => {
            let len = len.index(bytes.len());
            bytes.truncate(len);
            let class = if len < prefix + 57 {
                "wire"
            } else {
                "decryption_failed"
            };
            (bytes, vec![class])
        }
        InitialFault::Extend(extra) => {
            bytes.extend_from_slice(extra);
            (bytes, vec!["decryption_failed"])
        }
    }
}

/// `wire` for a non-canonical key, else `decryption_failed` (another DH).
fn key_class(key: &[u8]) -> &'static str {
    match <[u8; 32]>::try_from(key) {
        Ok(key) if is_canonical(&key) => "decryption_failed",
        _ => "wire",
    }
}

/// Runs one handshake case against `imp`.
pub(crate) fn run(imp: &mut dyn Implementation, case: &HandshakeCase) -> Result<(), Violation> {
    let mut driver = Driver::new(imp);
    let result = check(&mut driver, case);
    driver.free_all();
    result
}

fn check(driver: &mut Driver<'_>, case: &HandshakeCase) -> Result<(), Violation> {
    let mut keys = KeySource::new(case.seed);
    let Parties {
        alice_seed,
        bob_seed,
        spk_secret,
        opk_secret,
        bob,
        spk,
        opk,
    } = Parties::draw(&mut keys, case.one_time_prekey);
    let plaintext = case.plaintext.bytes();
    let initiate = |keys: &mut KeySource, bundle: Vec<u8>| Request::Initiate {
        identity_seed: Bytes::from(alice_seed),
        bundle: Bytes(bundle),
        ephemeral_private_key: Bytes::from(keys.next()),
        ratchet_private_key: Bytes::from(keys.next()),
        plaintext: Bytes(plaintext.clone()),
    };

    // A bad bundle: no session, only one of the allowed error classes.
    let (bad_bundle, allowed) = damage_bundle(&case.bundle_fault, &bob, &spk, opk.as_ref());
    if driver.has(Capability::Bundle) {
        let verdict = driver.call(Request::BundleVerify {
            bundle: Bytes(bad_bundle.clone()),
        })?;
        spec_bundle(driver, &bad_bundle, &verdict)?;
        expect_rejection(
            driver,
            "bundle_verify of the damaged bundle",
            verdict.map(drop),
            allowed,
        )?;
    }
    let verdict = driver.call(initiate(&mut keys, bad_bundle))?;
    if let Ok(out) = &verdict {
        driver.handle(out, "session")?;
    }
    expect_rejection(
        driver,
        "initiate with the damaged bundle",
        verdict.map(drop),
        allowed,
    )?;

    // The honest handshake, with a damaged initial message delivered first.
    let out = driver.expect_ok(
        Property::Handshake,
        Request::PrekeyStoreCreate {
            identity_seed: Bytes::from(bob_seed),
            signed_prekeys: vec![PreKeySecret {
                id: SIGNED_PREKEY_ID,
                private_key: Bytes::from(spk_secret),
            }],
            one_time_prekeys: opk
                .iter()
                .map(|_| PreKeySecret {
                    id: ONE_TIME_PREKEY_ID,
                    private_key: Bytes::from(opk_secret),
                })
                .collect(),
        },
    )?;
    let store = driver.handle(&out, "store")?;
    let honest_bundle = PreKeyBundle::new(&bob, &spk, opk.as_ref()).to_bytes();
    let out = driver.expect_ok(Property::Handshake, initiate(&mut keys, honest_bundle))?;
    driver.handle(&out, "session")?;
    let initial = driver.bytes(&out, "initial_message")?;
    let prefix = INITIAL_PREFIX_LEN + if case.one_time_prekey { 4 } else { 0 };
    let (bad_initial, allowed) = damage_initial(&case.initial_fault, &initial, prefix);
    let ids_before = prekey_ids(driver, &store)?;
    let respond = |keys: &mut KeySource, message: Vec<u8>| Request::Respond {
        store: store.clone(),
        initial_message: Bytes(message),
        ratchet_private_key: Bytes::from(keys.next()),
    };
    let verdict = driver.call(respond(&mut keys, bad_initial))?;
    if let Ok(out) = &verdict {
        driver.handle(out, "session")?;
    }
    expect_rejection(
        driver,
        "respond to the damaged initial message",
        verdict.map(drop),
        &allowed,
    )?;
    if prekey_ids(driver, &store)? != ids_before {
        return Err(driver.violation(
            Property::StateUnchanged,
            "a rejected initial message changed the responder's one-time prekeys",
        ));
    }

    // The authentic initial message still works, and uses up the prekey.
    let out = driver.expect_ok(Property::Handshake, respond(&mut keys, initial.clone()))?;
    driver.handle(&out, "session")?;
    if driver.bytes(&out, "plaintext")? != plaintext {
        return Err(driver.violation(
            Property::Delivery,
            "the initial message decrypted to a different plaintext",
        ));
    }
    if case.one_time_prekey {
        let ids = prekey_ids(driver, &store)?;
        if ids.contains(&u64::from(ONE_TIME_PREKEY_ID)) {
            return Err(driver.violation(
                Property::Handshake,
                "the one-time prekey survived the handshake that used it",
            ));
        }
        // Replayed, the initial message names a prekey that is gone.
        let verdict = driver.call(respond(&mut keys, initial))?;
        if let Ok(out) = &verdict {
            driver.handle(out, "session")?;
        }
        expect_rejection(
            driver,
            "respond to a replayed initial message",
            verdict.map(drop),
            &["handshake"],
        )?;
    }
    Ok(())
}

fn prekey_ids(driver: &mut Driver<'_>, store: &str) -> Result<Vec<u64>, Violation> {
    let out = driver.expect_ok(
        Property::Interface,
        Request::PrekeyStoreIds {
            store: store.to_owned(),
        },
    )?;
    out.get("one_time_prekey_ids")
        .and_then(|v| v.as_array())
        .and_then(|ids| ids.iter().map(|id| id.as_u64()).collect::<Option<Vec<_>>>())
        .ok_or_else(|| {
            driver.violation(
                Property::Interface,
                "output lacks a well-formed `one_time_prekey_ids` field",
            )
        })
}

/// The independent spec model (`sealwire-specmodel`) verifies or rejects
/// `bundle` as the implementation's `bundle_verify` did, with its class.
fn spec_bundle(
    driver: &Driver<'_>,
    bundle: &[u8],
    verdict: &Result<Output, String>,
) -> Result<(), Violation> {
    let checked = match verdict {
        Ok(_) => Checker::check_bundle_accepted(bundle),
        Err(class) => match ErrorClass::from_name(class) {
            Some(class) => Checker::check_bundle_rejected(bundle, class),
            None => return Ok(()), // not a SPEC.md class: `expect_rejection` reports it
        },
    };
    if checked.agrees() {
        return Ok(());
    }
    Err(driver.violation(Property::SpecModel, format!("bundle_verify: {checked}")))
}

fn expect_rejection(
    driver: &Driver<'_>,
    what: &str,
    verdict: Result<(), String>,
    allowed: &[&str],
) -> Result<(), Violation> {
    match verdict {
        Ok(()) => Err(driver.violation(
            Property::Handshake,
            format!("{what} succeeded (expected one of {allowed:?})"),
        )),
        Err(class) if allowed.contains(&class.as_str()) => Ok(()),
        Err(class) => Err(driver.violation(
            Property::Model,
            format!("{what} was rejected with `{class}`, expected one of {allowed:?}"),
        )),
    }
}
