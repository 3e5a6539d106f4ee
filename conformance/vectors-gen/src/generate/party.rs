//! Fixed parties and simulated conversations.
//!
//! A [`Convo`] runs Alice and Bob with the reference crate while it records
//! the steps a runner replays against an implementation: every key comes
//! from a labelled seed and is handed to the protocol through a scripted
//! generator, so the recorded messages are byte-exact.

use std::collections::BTreeMap;

use sealwire::hazmat::KeyPair;
use sealwire::{
    ErrorClass, IdentityKeyPair, InMemoryPreKeyStore, OneTimePreKey, PreKeyBundle, RatchetMessage,
    Session, SignedPreKey, initiate_with_rng, respond_with_rng,
};

use super::{Scripted, b, err, hexv, ok, ok_bind, seed};
use crate::schema::Step;
use sealwire_adapter::{PreKeySecret, Request};

/// The signed prekey id every fixed responder uses.
pub(crate) const SPK_ID: u32 = 7;
/// The one-time prekey id every fixed responder uses.
pub(crate) const OPK_ID: u32 = 100;

/// Every private key of one handshake, from labelled seeds.
#[derive(Clone, Debug)]
pub(crate) struct Keys {
    pub(crate) alice_seed: [u8; 32],
    pub(crate) bob_seed: [u8; 32],
    pub(crate) spk: [u8; 32],
    pub(crate) opk: [u8; 32],
    pub(crate) ephemeral: [u8; 32],
    pub(crate) alice_ratchet: [u8; 32],
    pub(crate) bob_ratchet: [u8; 32],
}

impl Keys {
    /// The keys of the handshake named `label`.
    pub(crate) fn new(label: &str) -> Self {
        let k = |what: &str| seed(&format!("{label}/{what}"));
        Self {
            alice_seed: k("alice-identity"),
            bob_seed: k("bob-identity"),
            spk: k("bob-signed-prekey"),
            opk: k("bob-one-time-prekey"),
            ephemeral: k("alice-ephemeral"),
            alice_ratchet: k("alice-ratchet-0"),
            bob_ratchet: k("bob-ratchet-0"),
        }
    }

    pub(crate) fn alice(&self) -> IdentityKeyPair {
        IdentityKeyPair::from_seed(self.alice_seed)
    }

    pub(crate) fn bob(&self) -> IdentityKeyPair {
        IdentityKeyPair::from_seed(self.bob_seed)
    }

    pub(crate) fn signed_prekey(&self) -> SignedPreKey {
        SignedPreKey::new(SPK_ID, self.spk, &self.bob())
    }

    pub(crate) fn one_time_prekey(&self) -> OneTimePreKey {
        OneTimePreKey::new(OPK_ID, self.opk)
    }

    /// Bob's bundle, with or without his one-time prekey.
    pub(crate) fn bundle(&self, with_opk: bool) -> PreKeyBundle {
        let opk = self.one_time_prekey();
        PreKeyBundle::new(&self.bob(), &self.signed_prekey(), with_opk.then_some(&opk))
    }

    /// Bob's private prekey store (the one-time prekey only `with_opk`).
    pub(crate) fn store(&self, with_opk: bool) -> InMemoryPreKeyStore {
        let mut store = InMemoryPreKeyStore::new();
        store.add_signed_prekey(self.signed_prekey());
        if with_opk {
            store.add_one_time_prekey(self.one_time_prekey());
        }
        store
    }

    /// The `prekey_store_create` request for [`Keys::store`].
    pub(crate) fn store_request(&self, with_opk: bool) -> Request {
        Request::PrekeyStoreCreate {
            identity_seed: b(&self.bob_seed),
            signed_prekeys: vec![PreKeySecret {
                id: SPK_ID,
                private_key: b(&self.spk),
            }],
            one_time_prekeys: if with_opk {
                vec![PreKeySecret {
                    id: OPK_ID,
                    private_key: b(&self.opk),
                }]
            } else {
                Vec::new()
            },
        }
    }

    /// The `initiate` request for `bundle`.
    pub(crate) fn initiate_request(&self, bundle: &[u8], plaintext: &[u8]) -> Request {
        Request::Initiate {
            identity_seed: b(&self.alice_seed),
            bundle: b(bundle),
            ephemeral_private_key: b(&self.ephemeral),
            ratchet_private_key: b(&self.alice_ratchet),
            plaintext: b(plaintext),
        }
    }

    /// Runs `initiate` with these keys.
    pub(crate) fn initiate(
        &self,
        bundle: &PreKeyBundle,
        plaintext: &[u8],
    ) -> Result<(Session, Vec<u8>), sealwire::Error> {
        let mut rng = Scripted::new(&[&self.ephemeral, &self.alice_ratchet]);
        initiate_with_rng(&self.alice(), bundle, plaintext, &mut rng)
    }

    /// X3DH's SK and AD, computed by the initiator.
    pub(crate) fn x3dh(&self, bundle: &PreKeyBundle) -> ([u8; 32], [u8; 64]) {
        let ek = KeyPair::from_secret_bytes(self.ephemeral);
        sealwire::testing::x3dh_initiator(&self.alice(), bundle, &ek)
            .expect("the fixed bundle verifies")
    }
}

/// The receiving ratchet key DHr of a serialized session (SPEC.md §9.1:
/// its presence flag follows version, AD, RK, DHs, CKs, Ns and PN).
fn receiving_ratchet_key(state: &[u8]) -> Option<[u8; 32]> {
    const DHR_FLAG: usize = 1 + 64 + 32 * 3 + 4 + 4;
    (state[DHR_FLAG] == 1).then(|| {
        state[DHR_FLAG + 1..DHR_FLAG + 33]
            .try_into()
            .expect("32 bytes")
    })
}

/// What [`Convo::start`] sets up.
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    /// Whether Bob's bundle offers a one-time prekey.
    pub(crate) with_opk: bool,
    /// Alice's first plaintext.
    pub(crate) first: Vec<u8>,
    /// Whether `initiate` and `respond` also expect `shared_secret` and `ad`.
    pub(crate) x3dh_secret: bool,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            with_opk: true,
            first: b"hello Bob".to_vec(),
            x3dh_secret: false,
        }
    }
}

/// A simulated conversation and the steps recorded so far.
#[derive(Debug)]
pub(crate) struct Convo {
    label: String,
    /// The steps recorded so far.
    pub(crate) steps: Vec<Step>,
    sessions: BTreeMap<String, (Session, bool)>,
    /// The encoded initial message.
    pub(crate) initial: Vec<u8>,
    next_key: u32,
}

impl Clone for Convo {
    /// Sessions are not `Clone`: each one is copied through its own bytes.
    fn clone(&self) -> Self {
        Self {
            label: self.label.clone(),
            steps: self.steps.clone(),
            sessions: self
                .sessions
                .iter()
                .map(|(name, (session, flag))| {
                    (
                        name.clone(),
                        (
                            sealwire::Session::from_bytes(&session.to_bytes())
                                .expect("a session restores from its own bytes"),
                            *flag,
                        ),
                    )
                })
                .collect(),
            initial: self.initial.clone(),
            next_key: self.next_key,
        }
    }
}

impl Convo {
    /// Records `prekey_store_create` (bound to `store`), `initiate` (bound
    /// to `alice`) and `respond` (bound to `bob`).
    pub(crate) fn start(label: &str, setup: &Setup) -> Self {
        let keys = Keys::new(label);
        let bundle = keys.bundle(setup.with_opk);
        let (alice, initial) = keys
            .initiate(&bundle, &setup.first)
            .expect("the fixed handshake succeeds");
        let mut store = keys.store(setup.with_opk);
        let mut rng = Scripted::new(&[&keys.bob_ratchet]);
        let (bob, first) = respond_with_rng(&keys.bob(), &mut store, &initial, &mut rng)
            .expect("the fixed handshake succeeds");
        assert_eq!(first, setup.first);
        let mut steps = vec![ok_bind(keys.store_request(setup.with_opk), "store", &[])];
        let mut init_fields = vec![("initial_message", hexv(&initial))];
        let mut resp_fields = vec![("plaintext", hexv(&first))];
        if setup.x3dh_secret {
            let (sk, ad) = keys.x3dh(&bundle);
            init_fields.push(("shared_secret", hexv(&sk)));
            init_fields.push(("ad", hexv(&ad)));
            resp_fields.push(("shared_secret", hexv(&sk)));
            resp_fields.push(("ad", hexv(&ad)));
        }
        steps.push(ok_bind(
            keys.initiate_request(&bundle.to_bytes(), &setup.first),
            "alice",
            &init_fields,
        ));
        steps.push(ok_bind(
            Request::Respond {
                store: "store".into(),
                initial_message: b(&initial),
                ratchet_private_key: b(&keys.bob_ratchet),
            },
            "bob",
            &resp_fields,
        ));
        let mut sessions = BTreeMap::new();
        sessions.insert("alice".to_string(), (alice, true));
        sessions.insert("bob".to_string(), (bob, true));
        Self {
            label: label.to_string(),
            steps,
            sessions,
            initial,
            next_key: 1,
        }
    }

    fn session(&mut self, name: &str, visible: bool) -> &mut Session {
        let (session, synced) = self
            .sessions
            .get_mut(name)
            .unwrap_or_else(|| panic!("no session {name}"));
        if visible {
            assert!(
                *synced,
                "{name} is used in a step after hidden operations: the implementation's copy differs"
            );
        } else {
            *synced = false;
        }
        session
    }

    /// A copy of the simulated session `name`.
    pub(crate) fn snapshot(&self, name: &str) -> Session {
        sealwire::Session::from_bytes(&self.sessions[name].0.to_bytes())
            .expect("a session restores from its own bytes")
    }

    /// Records `encrypt` on `name`, expecting the exact message.
    pub(crate) fn send(&mut self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let message = self
            .session(name, true)
            .encrypt(plaintext)
            .expect("encrypt succeeds");
        self.steps.push(ok(
            Request::Encrypt {
                session: name.into(),
                plaintext: b(plaintext),
            },
            &[("message", hexv(&message))],
        ));
        message
    }

    /// Encrypts on the simulated `name` only: the implementation's copy of
    /// `name` is not used in a step afterwards.
    pub(crate) fn send_hidden(&mut self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        self.session(name, false)
            .encrypt(plaintext)
            .expect("encrypt succeeds")
    }

    /// Decrypts on the simulated `name`, without recording a step, and
    /// returns the outcome with the ratchet key to supply: one is supplied
    /// whenever the message may start a new ratchet turn (its header
    /// decodes and names a ratchet key other than the receiving one), so an
    /// implementation may draw it at any point of its checks (ADAPTER.md:
    /// a supplied key that is not needed is ignored).
    fn decrypt_sim(
        &mut self,
        name: &str,
        message: &[u8],
        visible: bool,
    ) -> (Result<Vec<u8>, ErrorClass>, Option<[u8; 32]>) {
        let key = seed(&format!("{}/ratchet-{}", self.label, self.next_key));
        let session = self.session(name, visible);
        let before = session.to_bytes();
        let may_ratchet = RatchetMessage::decode(message).is_ok_and(|m| {
            receiving_ratchet_key(&before) != Some(*m.header.ratchet_key.as_bytes())
        });
        let mut rng = Scripted::new(&[&key]);
        let result = session
            .decrypt_with_rng(message, &mut rng)
            .map_err(|e| e.class());
        if result.is_err() {
            assert!(
                session.to_bytes() == before,
                "a rejected message changed the session: protocol bug"
            );
        }
        let drawn = rng.drawn() == 32;
        assert!(
            !drawn || may_ratchet,
            "a key was drawn for a message that cannot start a turn"
        );
        let used = may_ratchet.then_some(key);
        if used.is_some() {
            self.next_key += 1;
        }
        (result, used)
    }

    /// Records `decrypt` on `name` with whatever outcome the reference
    /// crate gives, and returns it.
    pub(crate) fn recv_any(&mut self, name: &str, message: &[u8]) -> Result<Vec<u8>, ErrorClass> {
        let (result, key) = self.decrypt_sim(name, message, true);
        let request = Request::Decrypt {
            session: name.into(),
            message: b(message),
            ratchet_private_key: key.map(|k| b(&k)),
        };
        self.steps.push(match &result {
            Ok(pt) => ok(request, &[("plaintext", hexv(pt))]),
            Err(class) => err(request, *class),
        });
        result
    }

    /// Records a `decrypt` on `name` that must succeed.
    pub(crate) fn recv(&mut self, name: &str, message: &[u8]) -> Vec<u8> {
        match self.recv_any(name, message) {
            Ok(pt) => pt,
            Err(class) => panic!("{}: genuine message rejected with {class}", self.label),
        }
    }

    /// Records a `decrypt` on `name` that must fail with `class`.
    pub(crate) fn recv_err(&mut self, name: &str, message: &[u8], class: ErrorClass) {
        match self.recv_any(name, message) {
            Ok(_) => panic!("{}: expected {class}, message accepted", self.label),
            Err(c) => assert_eq!(c, class, "{}: wrong error class", self.label),
        }
    }

    /// Decrypts on the simulated `name` only (must succeed).
    pub(crate) fn recv_hidden(&mut self, name: &str, message: &[u8]) -> Vec<u8> {
        self.decrypt_sim(name, message, false)
            .0
            .expect("hidden decrypt succeeds")
    }

    /// Records `skipped_count` on `name`.
    pub(crate) fn count(&mut self, name: &str) -> usize {
        let count = self.session(name, true).skipped_keys_len();
        self.steps.push(ok(
            Request::SkippedCount {
                session: name.into(),
            },
            &[("count", count.into())],
        ));
        count
    }

    /// Records `export_state` on `name`, expecting the exact bytes.
    pub(crate) fn export(&mut self, name: &str) -> Vec<u8> {
        let state = self.session(name, true).to_bytes().to_vec();
        self.steps.push(ok(
            Request::ExportState {
                session: name.into(),
            },
            &[("state", hexv(&state))],
        ));
        state
    }

    /// Records `import_state` of `state`, bound to `name`.
    pub(crate) fn import(&mut self, name: &str, state: &[u8]) {
        let session = Session::from_bytes(state).expect("a generated state imports");
        self.steps
            .push(ok_bind(Request::ImportState { state: b(state) }, name, &[]));
        self.sessions.insert(name.to_string(), (session, true));
    }

    /// Adds an already simulated session under `name` (for example one
    /// opened from a sealed state by a recorded step).
    pub(crate) fn adopt(&mut self, name: &str, session: Session) {
        self.sessions.insert(name.to_string(), (session, true));
    }

    /// Records an arbitrary step.
    pub(crate) fn push(&mut self, step: Step) {
        self.steps.push(step);
    }

    /// The recorded steps.
    pub(crate) fn into_steps(self) -> Vec<Step> {
        self.steps
    }
}
