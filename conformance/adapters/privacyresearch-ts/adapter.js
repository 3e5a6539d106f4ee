// Sealwire black-box (protocol 2) adapter for
// @privacyresearch/libsignal-protocol-typescript (a TypeScript port of
// libsignal-protocol-javascript). conformance/ADAPTER-v2.md; README.md beside
// this file says what it wraps, where each limit comes from and what it
// cannot express. The request loop and the layout of the version-3 wire
// format are shared with the libsignal forks' adapters
// (../v2_tools/libsignal_js_core.js).
'use strict';

const nodeCrypto = require('node:crypto');
const core = require('../v2_tools/libsignal_js_core.js');

core.consoleToStderr();
const { hex, unhex, WireError, Unsupported } = core;

const PKG = '@privacyresearch/libsignal-protocol-typescript';
const S = require(PKG);
// Not re-exported by the package's index; the same module the library uses.
const { SessionRecord } = require(`${PKG}/lib/session-record`);
const pkgJson = require(`${PKG}/package.json`);
const { layout, isPreKeyMessage } = core.wireHelpers(require('protobufjs/minimal').Reader);

// ---- seeded randomness. The library draws every random value through
// WebCrypto's getRandomValues (Internal.crypto.getRandomBytes: key pairs,
// registration ids); its signatures (curve25519_sign) and IVs (derived from
// message keys) draw none. Its public setWebCrypto() lets the application
// supply the WebCrypto object: the adapter passes Node's WebCrypto `subtle`
// with a getRandomValues that reads a ChaCha20 keystream (Node's OpenSSL)
// keyed with the hello's seed. The library's only clock, Date.now() (archive
// and old-chain timestamps inside session records), is made a counter, so the
// same requests give the same bytes, states included.
let stream = null;
function seed(seedHex) {
  const key = Buffer.from(seedHex, 'hex');
  if (key.length !== 32) throw new WireError('seed must be 32 bytes');
  stream = nodeCrypto.createCipheriv('chacha20', key, Buffer.alloc(16));
}
S.setWebCrypto({
  subtle: globalThis.crypto.subtle,
  getRandomValues(array) {
    if (stream === null) throw new Error('randomness requested before the hello');
    const bytes = stream.update(Buffer.alloc(array.byteLength));
    new Uint8Array(array.buffer, array.byteOffset, array.byteLength).set(bytes);
    return array;
  },
});
let clock = 1_700_000_000_000;
Date.now = () => clock++;

const ab = (buf) => {
  const b = Buffer.from(buf);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};
const bytesOfBinaryString = (s) => Buffer.from(s, 'latin1');

// ---- storage: one per session handle (one record under one address), over
// the party's keys. The library's contract stores records as strings
// (SessionRecordType = string) and deserializes on every load, so there is
// one store discipline.
class Storage {
  constructor(party) {
    this.party = party;
    this.record = undefined;
    this.remoteIdentity = null; // trusted on first use
  }
  async getIdentityKeyPair() {
    return this.party.identity;
  }
  async getLocalRegistrationId() {
    return this.party.registrationId;
  }
  async isTrustedIdentity(_identifier, key, _direction) {
    return this.remoteIdentity === null || Buffer.from(key).equals(this.remoteIdentity);
  }
  async saveIdentity(_addr, key) {
    const changed = this.remoteIdentity !== null && !Buffer.from(key).equals(this.remoteIdentity);
    this.remoteIdentity = Buffer.from(key);
    return changed;
  }
  async loadPreKey(id) {
    return this.party.preKeys.get(Number(id));
  }
  async storePreKey(id, kp) {
    this.party.preKeys.set(Number(id), kp);
  }
  async removePreKey(id) {
    this.party.preKeys.delete(Number(id));
  }
  async loadSignedPreKey(id) {
    return Number(id) === this.party.signed.keyId ? this.party.signed.keyPair : undefined;
  }
  async storeSignedPreKey() {
    throw new Error('not used');
  }
  async removeSignedPreKey() {
    throw new Error('not used');
  }
  async storeSession(_addr, record) {
    this.record = record;
  }
  async loadSession(_addr) {
    return this.record;
  }
}

const DEVICE = 1;
let next = 1;
const parties = new Map();
const sessions = new Map();
const getParty = (h) => {
  const p = parties.get(h);
  if (!p) throw new WireError('unknown party');
  return p;
};
const getSession = (h) => {
  const s = sessions.get(h);
  if (!s) throw new WireError('unknown session');
  return s;
};
function newSession(partyHandle) {
  const storage = new Storage(getParty(partyHandle));
  const addr = new S.SignalProtocolAddress(`peer${next}`, DEVICE);
  return { storage, addr, cipher: new S.SessionCipher(storage, addr) };
}
function addSession(s) {
  const h = `s${next++}`;
  sessions.set(h, s);
  return h;
}

async function createParty(n) {
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new WireError('one_time_prekeys');
  const identity = await S.KeyHelper.generateIdentityKeyPair();
  const party = {
    identity,
    registrationId: S.KeyHelper.generateRegistrationId(),
    signed: await S.KeyHelper.generateSignedPreKey(identity, 1),
    preKeys: new Map(),
  };
  for (let i = 1; i <= n; i++) party.preKeys.set(i, (await S.KeyHelper.generatePreKey(i)).keyPair);
  const h = `p${next++}`;
  parties.set(h, party);
  return h;
}

// Bundle encoding (the adapter's own): JSON of the DeviceType fields
// SessionBuilder.processPreKey reads, hex-encoded.
function publishBundle(h, withOtk) {
  const p = getParty(h);
  let preKey = null;
  if (withOtk) {
    const ids = [...p.preKeys.keys()].sort((a, b) => a - b);
    if (ids.length === 0) throw new Unsupported('no unused one-time prekey left');
    preKey = { keyId: ids[0], publicKey: hex(p.preKeys.get(ids[0]).pubKey) };
  }
  const b = {
    identityKey: hex(p.identity.pubKey),
    registrationId: p.registrationId,
    preKey,
    signedPreKey: { keyId: p.signed.keyId, publicKey: hex(p.signed.keyPair.pubKey), signature: hex(p.signed.signature) },
  };
  return { bundle: hex(Buffer.from(JSON.stringify(b))), one_time_prekey_id: preKey ? String(preKey.keyId) : null };
}
function parseBundle(bundleHex) {
  let b;
  try {
    b = JSON.parse(unhex(bundleHex).toString('utf8'));
  } catch (e) {
    throw new WireError(`bundle: ${e.message}`);
  }
  const device = {
    identityKey: ab(unhex(b.identityKey)),
    registrationId: b.registrationId,
    signedPreKey: {
      keyId: b.signedPreKey.keyId,
      publicKey: ab(unhex(b.signedPreKey.publicKey)),
      signature: ab(unhex(b.signedPreKey.signature)),
    },
  };
  if (b.preKey) device.preKey = { keyId: b.preKey.keyId, publicKey: ab(unhex(b.preKey.publicKey)) };
  return device;
}

// export_state: JSON of { trusted remote identity, the record string the
// library stored }.
function exportState(s) {
  if (s.storage.record === undefined) throw new WireError('empty session');
  const id = s.storage.remoteIdentity ? s.storage.remoteIdentity.toString('base64') : null;
  return hex(Buffer.from(JSON.stringify({ remoteIdentity: id, record: s.storage.record })));
}
function importState(partyHandle, stateHex) {
  let st;
  try {
    st = JSON.parse(unhex(stateHex).toString('utf8'));
    if (typeof st.record !== 'string') throw new Error('no record');
    SessionRecord.deserialize(st.record);
  } catch (e) {
    throw new WireError(`state: ${e.message}`);
  }
  const s = newSession(partyHandle);
  if (st.remoteIdentity) s.storage.remoteIdentity = Buffer.from(st.remoteIdentity, 'base64');
  s.storage.record = st.record;
  return addSession(s);
}

function sessionSecrets(rec) {
  const out = [];
  for (const entry of Object.values(rec.sessions)) {
    const r = entry.currentRatchet;
    out.push(r.rootKey);
    if (r.ephemeralKeyPair) out.push(r.ephemeralKeyPair.privKey);
    for (const chain of Object.values(entry.chains)) {
      if (chain.chainKey.key) out.push(chain.chainKey.key);
      out.push(...Object.values(chain.messageKeys));
    }
  }
  return out;
}
function skipped(rec) {
  const open = rec.getOpenSession();
  if (!open) return 0;
  let n = 0;
  for (const chain of Object.values(open.chains)) n += Object.keys(chain.messageKeys).length;
  return n;
}

async function handle(req) {
  switch (req.op) {
    case 'create_party':
      return { party: await createParty(req.one_time_prekeys) };
    case 'publish_bundle':
      return publishBundle(req.party, req.one_time_prekey === true);
    case 'unused_prekeys':
      return { ids: [...getParty(req.party).preKeys.keys()].sort((a, b) => a - b).map(String) };
    case 'initiate': {
      const device = parseBundle(req.bundle);
      const pt = unhex(req.plaintext);
      const s = newSession(req.party);
      await new S.SessionBuilder(s.storage, s.addr).processPreKey(device);
      const { body } = await s.cipher.encrypt(ab(pt));
      return { session: addSession(s), message: hex(bytesOfBinaryString(body)) };
    }
    case 'respond': {
      const m = unhex(req.message);
      const s = newSession(req.party);
      const pt = await s.cipher.decryptPreKeyWhisperMessage(ab(m), 'binary');
      return { session: addSession(s), plaintext: hex(pt) };
    }
    case 'encrypt': {
      const s = getSession(req.session);
      const { body } = await s.cipher.encrypt(ab(unhex(req.plaintext)));
      return { message: hex(bytesOfBinaryString(body)) };
    }
    case 'decrypt': {
      const s = getSession(req.session);
      const m = ab(unhex(req.message));
      const pt = isPreKeyMessage(Buffer.from(m))
        ? await s.cipher.decryptPreKeyWhisperMessage(m, 'binary')
        : await s.cipher.decryptWhisperMessage(m, 'binary');
      return { plaintext: hex(pt) };
    }
    case 'export_state':
      return { state: exportState(getSession(req.session)) };
    case 'import_state':
      return { session: importState(req.party, req.state) };
    case 'free':
      if (!parties.delete(req.handle) && !sessions.delete(req.handle)) throw new WireError('unknown handle');
      return {};
    case 'skipped_count': {
      const s = getSession(req.session);
      return { count: s.storage.record === undefined ? 0 : skipped(SessionRecord.deserialize(s.storage.record)) };
    }
    case 'secrets': {
      let out;
      if (parties.has(req.handle)) {
        const p = parties.get(req.handle);
        out = [p.identity.privKey, p.signed.keyPair.privKey, ...[...p.preKeys.values()].map((k) => k.privKey)];
      } else {
        const s = getSession(req.handle);
        out = s.storage.record === undefined ? [] : sessionSecrets(SessionRecord.deserialize(s.storage.record));
      }
      return { secrets: [...new Set(out.map(hex))] };
    }
    case 'layout':
      return layout(unhex(req.message));
    default:
      throw new WireError(`unknown op ${req.op}`);
  }
}

function hello(req) {
  if (req.protocol !== 2) throw new WireError('protocol');
  if (typeof req.seed !== 'string' || !/^[0-9a-f]{64}$/.test(req.seed)) throw new WireError('seed');
  seed(req.seed);
  return {
    name: `libsignal-protocol-typescript ${pkgJson.version}`,
    protocol: 2,
    library: { name: PKG, version: pkgJson.version, licence: pkgJson.license, family: 'signal' },
    errors: 'coarse',
    seedable: true,
    // session-cipher.js, fillMessageKeys: a counter more than 2000 past the
    // last derived one (-1 on a new chain) is refused: a message skips at most
    // 1999 keys of its chain. Skipped keys have no cap and old chains are never removed
    // (session-record.js, removeOldChains: README.md).
    limits: { max_forward_jump: 1999, skipped_keys: { cap: null, scope: 'session' }, old_chains: null, max_plaintext: null },
    overhead: { first: [128, 170], message: [51, 78] },
    capabilities: ['state', 'skipped_count', 'secrets', 'layout'],
  };
}

core
  .serve({ hello, handle, errorClass: (e) => (e && e.name === 'MessageCounterError' ? 'duplicate' : 'rejected') })
  .then(
    () => process.exit(0),
    (e) => {
      process.stderr.write(`adapter: ${e.stack || e}\n`);
      process.exit(2);
    },
  );
