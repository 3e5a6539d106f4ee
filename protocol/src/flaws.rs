//! TEST-ONLY planted flaws, behind the `planted-flaws` feature.
//!
//! Each [`Flaw`] is a realistic defect or backdoor, planted as a few lines at
//! the place where a real implementation would get it wrong. The suite's
//! self-test (`sealwire-conformance zoo`) switches them on one at a time and
//! checks that some check of the suite catches each one.
//!
//! The selector is per thread, so tests running in parallel do not see each
//! other's flaws. A default build contains none of this module, and every
//! flaw site compiles to `false` (see the `planted!` macro in `lib.rs`).
//! Never enable the feature outside the suite's own tests.

use core::cell::Cell;
use core::fmt;

/// Marker string that exists only in builds with planted flaws; CI checks
/// that a default build's binaries do not contain it.
pub const MARKER: &str = "SEALWIRE-PLANTED-FLAWS-BUILD";

/// A planted defect or backdoor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Flaw {
    /// The sending chain key is not advanced: every message reuses one key.
    MessageKeyReuse,
    /// The AEAD nonce is all zero instead of derived from the message key.
    ConstantNonce,
    /// Decrypts before verifying the tag and leaves the plaintext in the
    /// caller's buffer when the tag is wrong.
    ReleaseBeforeVerify,
    /// Session state is advanced even when decryption fails.
    AdvanceOnFailure,
    /// A used skipped key is not deleted: its message can be replayed.
    ReplayAccepted,
    /// The associated data omits the identity keys (all zero).
    AdMissingIdentities,
    /// The header (version, ratchet key, PN, N) is not authenticated.
    HeaderUnauthenticated,
    /// A used one-time prekey is not deleted.
    OneTimePreKeyReused,
    /// The signed-prekey signature is not verified.
    SignatureNotVerified,
    /// Low-order X25519 keys and all-zero DH outputs are accepted.
    LowOrderAccepted,
    /// MAX_SKIP is not enforced (a million keys may be skipped).
    MaxSkipNotEnforced,
    /// MAX_SKIP is off by one: 1001 skipped keys are accepted.
    MaxSkipOffByOne,
    /// The skipped-key store is never trimmed.
    StoreUnbounded,
    /// Key escrow: each message also carries its message key sealed to a
    /// fixed third-party key.
    KeyEscrow,
    /// The X3DH ephemeral key is the same for every handshake.
    EphemeralReuse,
    /// The DH ratchet keeps the old sending ratchet key instead of a new one.
    RatchetKeyReuse,
    /// Injected randomness is ignored; keys come from an internal counter.
    RngIgnored,
    /// `Debug` of secret key types prints the key bytes.
    DebugLeaksSecret,
    /// Secret key types are not wiped when dropped.
    NoZeroizeOnDrop,
    /// The scratch buffer of a decryption is freed without being wiped.
    PlaintextLeftInFreedBuffer,
    /// Secret key comparison exits at the first differing byte.
    NonConstantTimeCompare,
    /// A plaintext starting with the 4-byte [`MAGIC`] does not advance the
    /// sending chain: the next message reuses its key and nonce.
    MagicPlaintextNoAdvance,
    /// A bundle whose signed-prekey id is the reserved `0xFFFF_FFFF` is
    /// accepted without checking its signature.
    ReservedIdLaxSignature,
    /// `Debug` of secret key types prints a 3-byte "fingerprint" of the key
    /// (shorter than the leak scanner's window).
    DebugFingerprint,
    /// A message with more than 64 KiB of plaintext whose authentication
    /// fails still advances the receiving chain (the all-or-nothing rule
    /// broken only above a size no small-message test reaches): the genuine
    /// message is then lost.
    LargeTamperAdvances,
    /// `Session::to_bytes` of a state with more than 1,024 stored skipped
    /// keys builds the key section in an unwiped scratch buffer (a "fast
    /// path" for large states): the keys stay behind in freed memory.
    LargeStateScratch,
    /// The plain forms (no generator given) draw from a process-wide
    /// ChaCha20 stream seeded once from the operating system (a "faster"
    /// generator): a forked child repeats its parent's keys.
    OsRngSeededOnce,
    /// `Session::open_state` parses the decrypted state before it checks
    /// the tag (to "fail fast" on a corrupt backup) and reports a parse
    /// failure as `AuthenticationFailed` too. Every verdict and error is
    /// right; only the time taken tells whether the unauthenticated
    /// plaintext parses: an oracle on the state's contents through bit
    /// flips, on a path the message dudect checks never time.
    SealedStateParsedBeforeVerify,
}

/// The plaintext length above which [`Flaw::LargeTamperAdvances`] acts.
pub const LARGE: usize = 64 * 1024;

/// The trigger of [`Flaw::MagicPlaintextNoAdvance`].
pub const MAGIC: [u8; 4] = *b"\x7fSW!";

impl Flaw {
    /// Every planted flaw, in a fixed order.
    pub const ALL: [Flaw; 28] = [
        Self::MessageKeyReuse,
        Self::ConstantNonce,
        Self::ReleaseBeforeVerify,
        Self::AdvanceOnFailure,
        Self::ReplayAccepted,
        Self::AdMissingIdentities,
        Self::HeaderUnauthenticated,
        Self::OneTimePreKeyReused,
        Self::SignatureNotVerified,
        Self::LowOrderAccepted,
        Self::MaxSkipNotEnforced,
        Self::MaxSkipOffByOne,
        Self::StoreUnbounded,
        Self::KeyEscrow,
        Self::EphemeralReuse,
        Self::RatchetKeyReuse,
        Self::RngIgnored,
        Self::DebugLeaksSecret,
        Self::NoZeroizeOnDrop,
        Self::PlaintextLeftInFreedBuffer,
        Self::NonConstantTimeCompare,
        Self::MagicPlaintextNoAdvance,
        Self::ReservedIdLaxSignature,
        Self::DebugFingerprint,
        Self::LargeTamperAdvances,
        Self::LargeStateScratch,
        Self::OsRngSeededOnce,
        Self::SealedStateParsedBeforeVerify,
    ];

    /// A stable snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::MessageKeyReuse => "message_key_reuse",
            Self::ConstantNonce => "constant_nonce",
            Self::ReleaseBeforeVerify => "release_before_verify",
            Self::AdvanceOnFailure => "advance_on_failure",
            Self::ReplayAccepted => "replay_accepted",
            Self::AdMissingIdentities => "ad_missing_identities",
            Self::HeaderUnauthenticated => "header_unauthenticated",
            Self::OneTimePreKeyReused => "one_time_prekey_reused",
            Self::SignatureNotVerified => "signature_not_verified",
            Self::LowOrderAccepted => "low_order_accepted",
            Self::MaxSkipNotEnforced => "max_skip_not_enforced",
            Self::MaxSkipOffByOne => "max_skip_off_by_one",
            Self::StoreUnbounded => "store_unbounded",
            Self::KeyEscrow => "key_escrow",
            Self::EphemeralReuse => "ephemeral_reuse",
            Self::RatchetKeyReuse => "ratchet_key_reuse",
            Self::RngIgnored => "rng_ignored",
            Self::DebugLeaksSecret => "debug_leaks_secret",
            Self::NoZeroizeOnDrop => "no_zeroize_on_drop",
            Self::PlaintextLeftInFreedBuffer => "plaintext_left_in_freed_buffer",
            Self::NonConstantTimeCompare => "non_constant_time_compare",
            Self::MagicPlaintextNoAdvance => "magic_plaintext_no_advance",
            Self::ReservedIdLaxSignature => "reserved_id_lax_signature",
            Self::DebugFingerprint => "debug_fingerprint",
            Self::LargeTamperAdvances => "large_tamper_advances",
            Self::LargeStateScratch => "large_state_scratch",
            Self::OsRngSeededOnce => "os_rng_seeded_once",
            Self::SealedStateParsedBeforeVerify => "sealed_state_parsed_before_verify",
        }
    }

    /// Parses [`Flaw::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

impl fmt::Display for Flaw {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

std::thread_local! {
    static ACTIVE: Cell<Option<Flaw>> = const { Cell::new(None) };
}

/// Switches `flaw` on (or every flaw off, with `None`) for this thread.
pub fn set(flaw: Option<Flaw>) {
    ACTIVE.with(|a| a.set(flaw));
}

/// The flaw switched on for this thread, if any.
pub fn active() -> Option<Flaw> {
    ACTIVE.with(Cell::get)
}

/// Switches the flaw named by the `SEALWIRE_PLANTED_FLAW` environment
/// variable on for this thread (for adapter processes). Returns it.
pub fn set_from_env() -> Option<Flaw> {
    let flaw = std::env::var("SEALWIRE_PLANTED_FLAW")
        .ok()
        .and_then(|name| Flaw::from_name(&name));
    set(flaw);
    flaw
}

/// Runs `f` with `flaw` switched on for this thread, then switches it off.
pub fn with<T>(flaw: Flaw, f: impl FnOnce() -> T) -> T {
    struct Reset(Option<Flaw>);
    impl Drop for Reset {
        fn drop(&mut self) {
            set(self.0);
        }
    }
    let _reset = Reset(active());
    set(Some(flaw));
    f()
}

/// True when `flaw` is switched on for this thread.
pub(crate) fn is(flaw: Flaw) -> bool {
    // Keep the marker in every build that has this module.
    core::hint::black_box(MARKER);
    active() == Some(flaw)
}

// The triggers of the flaws below live here, in the module cargo-mutants
// does not mutate, and the reference's own code asks one question with no
// operator of its own: a dormant `&&` there would be a mutant that no test
// can catch in a default build.

/// Whether `encrypt` keeps the sending chain key: [`Flaw::MessageKeyReuse`]
/// always, [`Flaw::MagicPlaintextNoAdvance`] when `plaintext` carries the
/// trigger.
pub(crate) fn keep_sending_chain(plaintext: &[u8]) -> bool {
    is(Flaw::MessageKeyReuse)
        || (is(Flaw::MagicPlaintextNoAdvance) && plaintext.starts_with(&MAGIC))
}

/// Whether a decryption whose authentication failed commits its new chain
/// state anyway: [`Flaw::AdvanceOnFailure`] always,
/// [`Flaw::LargeTamperAdvances`] for a message of more than [`LARGE`]
/// plaintext bytes.
pub(crate) fn commit_on_failure(message_len: usize) -> bool {
    is(Flaw::AdvanceOnFailure)
        || (is(Flaw::LargeTamperAdvances) && message_len > LARGE + crate::OVERHEAD)
}

/// Whether `Session::open_state` rejects a sealed state before checking
/// its tag under [`Flaw::SealedStateParsedBeforeVerify`]: the key stream
/// applied to the sealed body gives its (unauthenticated) plaintext, and a
/// state that does not parse is rejected at once. False (go on to the real
/// check) when the flaw is off or the plaintext parses.
pub(crate) fn early_reject_sealed_state(
    cipher: &chacha20poly1305::ChaCha20Poly1305,
    nonce: &chacha20poly1305::Nonce,
    aad: &[u8],
    body: &[u8],
) -> bool {
    use chacha20poly1305::AeadInOut;
    use chacha20poly1305::aead::inout::InOutBuf;
    if !is(Flaw::SealedStateParsedBeforeVerify) {
        return false;
    }
    let mut scratch = zeroize::Zeroizing::new(body.to_vec());
    let _ = cipher.encrypt_inout_detached(nonce, aad, InOutBuf::from(&mut scratch[..]));
    crate::Session::from_bytes(&scratch).is_err()
}

/// Whether `Session::to_bytes` takes [`Flaw::LargeStateScratch`]'s path
/// for a state with `skipped` stored keys.
pub(crate) fn scratch_state(skipped: usize) -> bool {
    is(Flaw::LargeStateScratch) && skipped > 1024
}

/// The generator of the plain forms in a planted-flaws build
/// (`crate::os_rng`): the operating system's, or with
/// [`Flaw::OsRngSeededOnce`] a process-wide ChaCha20 stream seeded once
/// from it.
pub(crate) struct PlainRng;

static SEEDED_ONCE: std::sync::Mutex<Option<rand_chacha::ChaCha20Rng>> =
    std::sync::Mutex::new(None);

impl rand_core::TryRng for PlainRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        use rand_core::{Rng, SeedableRng};
        let mut os = rand_core::UnwrapErr(getrandom::SysRng);
        if is(Flaw::OsRngSeededOnce) {
            let mut stream = SEEDED_ONCE
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            stream
                .get_or_insert_with(|| {
                    let mut seed = [0u8; 32];
                    os.fill_bytes(&mut seed);
                    rand_chacha::ChaCha20Rng::from_seed(seed)
                })
                .fill_bytes(dst);
        } else {
            os.fill_bytes(dst);
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for PlainRng {}

/// `crate::os_rng` in a planted-flaws build.
pub(crate) fn os_rng() -> PlainRng {
    PlainRng
}

/// Whether bundle verification skips the signature:
/// [`Flaw::SignatureNotVerified`] always, [`Flaw::ReservedIdLaxSignature`]
/// for the reserved signed-prekey id `u32::MAX`.
pub(crate) fn skip_signature(signed_prekey_id: u32) -> bool {
    is(Flaw::SignatureNotVerified)
        || (is(Flaw::ReservedIdLaxSignature) && signed_prekey_id == u32::MAX)
}

std::thread_local! {
    static WEAK_COUNTER: Cell<u64> = const { Cell::new(0) };
}

/// The `RngIgnored` flaw's "randomness": a per-thread counter, ignoring the
/// generator the caller injected.
pub(crate) fn weak_random(out: &mut [u8]) {
    let n = WEAK_COUNTER.with(|c| {
        let n = c.get().wrapping_add(1);
        c.set(n);
        n
    });
    for (i, b) in out.iter_mut().enumerate() {
        *b = (n as u8).wrapping_add(i as u8);
    }
}

/// The third party's fixed key in the `KeyEscrow` backdoor.
const ESCROW_KEY: [u8; 32] = [0x3e; 32];
/// Length of the escrow block appended to each message.
pub const ESCROW_LEN: usize = 32 + 16;

/// The `KeyEscrow` backdoor's block: MK sealed to the third party's key.
pub(crate) fn escrow(mk: &crate::keys::MessageKey) -> Vec<u8> {
    use chacha20poly1305::{AeadInOut, ChaCha20Poly1305, Key, KeyInit, Nonce};
    let cipher = ChaCha20Poly1305::new(&Key::from(ESCROW_KEY));
    let mut block = mk.0.to_vec();
    match cipher.encrypt_inout_detached(
        &Nonce::from([0u8; 12]),
        b"escrow",
        chacha20poly1305::aead::inout::InOutBuf::from(&mut block[..]),
    ) {
        Ok(tag) => block.extend_from_slice(&tag),
        Err(_) => block.clear(),
    }
    block
}

/// The receiving side of the `KeyEscrow` backdoor drops the escrow block.
pub(crate) fn strip_escrow(message: &[u8]) -> &[u8] {
    if is(Flaw::KeyEscrow) && message.len() >= crate::OVERHEAD + ESCROW_LEN {
        &message[..message.len() - ESCROW_LEN]
    } else {
        message
    }
}
