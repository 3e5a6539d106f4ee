// Sealwire black-box (protocol 2) adapter for @signalapp/libsignal-client
// (Signal's official libsignal, Rust, through its prebuilt Node binding).
// conformance/ADAPTER-v2.md; README.md beside this file says what it wraps,
// where each declared limit comes from and what it cannot express.
//
// stdout is the protocol channel: every console method and the library's
// logger write to stderr.

import { Console } from 'node:console';
import { createRequire } from 'node:module';
import { writeSync } from 'node:fs';
import readline from 'node:readline';

const stderrConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const m of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table']) {
  console[m] = stderrConsole[m].bind(stderrConsole);
}

const S = await import('@signalapp/libsignal-client');
const { Reader } = createRequire(import.meta.url)('protobufjs/minimal');
const VERSION = createRequire(import.meta.url)('@signalapp/libsignal-client/package.json').version;

// Every log line of the library, at its most verbose level (Trace; the
// prebuilt binary compiles out Debug and Trace, README.md), unchanged.
S.initLogger(S.LogLevel.Trace, (level, target, file, line, message) => {
  process.stderr.write(`libsignal ${S.LogLevel[level]} ${target} ${file ?? '?'}:${line ?? '?'} ${message}\n`);
});

const hex = (b) => Buffer.from(b).toString('hex');
function unhex(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new WireError('bad hex');
  return new Uint8Array(Buffer.from(s, 'hex'));
}
class WireError extends Error {}
class Unsupported extends Error {}

// ---- protobuf wire-format walking (protobufjs's Reader), for layout,
// skipped_count and secrets. Field numbers: the library's storage.proto and
// wire.proto (README.md).
function fields(bytes) {
  const r = Reader.create(bytes);
  const out = [];
  while (r.pos < r.len) {
    const start = r.pos;
    const tag = r.uint32();
    const no = tag >>> 3;
    const wt = tag & 7;
    const valueStart = r.pos;
    let value = null;
    let dataStart = valueStart;
    if (wt === 0) value = r.uint64().toNumber();
    else if (wt === 2) {
      const n = r.uint32();
      dataStart = r.pos;
      if (dataStart + n > r.len) throw new RangeError('truncated protobuf field');
      value = r.buf.subarray(dataStart, dataStart + n);
      r.pos = dataStart + n;
    } else r.skipType(wt);
    out.push({ no, wt, start, valueStart, dataStart, end: r.pos, value });
  }
  return out;
}
const all = (fs, no) => fs.filter((f) => f.no === no && f.wt === 2).map((f) => f.value);
const one = (fs, no) => all(fs, no)[0];

// SessionStructure: 4 root_key, 6 sender_chain, 7 receiver_chains; Chain:
// 2 sender_ratchet_key_private, 3 chain_key (ChainKey: 2 key), 4
// message_keys (MessageKey: 2 cipher_key, 3 mac_key, 4 iv, 5 seed).
function sessionSecrets(sess, out) {
  const f = fields(sess);
  const root = one(f, 4);
  if (root) out.push(root);
  for (const chain of [...all(f, 6), ...all(f, 7)]) {
    const cf = fields(chain);
    const priv = one(cf, 2);
    if (priv && priv.length) out.push(priv);
    const ck = one(cf, 3);
    if (ck) {
      const k = one(fields(ck), 2);
      if (k) out.push(k);
    }
    for (const mk of all(cf, 4)) {
      const mf = fields(mk);
      for (const no of [2, 3, 5]) {
        const v = one(mf, no);
        if (v && v.length) out.push(v);
      }
    }
  }
}
function skippedInSession(sess) {
  let n = 0;
  for (const chain of all(fields(sess), 7)) n += all(fields(chain), 4).length;
  return n;
}

// ---- stores (in memory). One identity/prekey world per party; one
// SessionStore and one IdentityKeyStore view per session, so every session
// handle is independent (import_state makes a new one).
class MemSessionStore extends S.SessionStore {
  constructor() {
    super();
    this.record = null;
  }
  async saveSession(_name, record) {
    this.record = S.SessionRecord.deserialize(record.serialize());
  }
  async getSession(_name) {
    return this.record ? S.SessionRecord.deserialize(this.record.serialize()) : null;
  }
  async getExistingSessions(addresses) {
    return this.record ? addresses.map(() => S.SessionRecord.deserialize(this.record.serialize())) : [];
  }
}
class MemIdentityStore extends S.IdentityKeyStore {
  constructor(party) {
    super();
    this.party = party;
    this.remote = null;
  }
  async getIdentityKey() {
    return this.party.identity.privateKey;
  }
  async getLocalRegistrationId() {
    return this.party.registrationId;
  }
  async saveIdentity(_name, key) {
    const changed = this.remote !== null && !this.remote.equals(key);
    this.remote = key;
    return changed ? S.IdentityChange.ReplacedExisting : S.IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(_name, key, _direction) {
    // Trust on first use, per session.
    return this.remote === null || this.remote.equals(key);
  }
  async getIdentity(_name) {
    return this.remote;
  }
}
class MemPreKeyStore extends S.PreKeyStore {
  constructor() {
    super();
    this.keys = new Map();
  }
  async savePreKey(id, record) {
    this.keys.set(id, record);
  }
  async getPreKey(id) {
    const r = this.keys.get(id);
    if (!r) throw new Error(`no one-time prekey ${id}`);
    return r;
  }
  async removePreKey(id) {
    this.keys.delete(id);
  }
}
class MemSignedPreKeyStore extends S.SignedPreKeyStore {
  constructor() {
    super();
    this.keys = new Map();
  }
  async saveSignedPreKey(id, record) {
    this.keys.set(id, record);
  }
  async getSignedPreKey(id) {
    const r = this.keys.get(id);
    if (!r) throw new Error(`no signed prekey ${id}`);
    return r;
  }
}
// The party's one Kyber prekey is a last-resort key: kept after use, and
// (as the library's KyberPreKeyStore contract asks) a second use with the
// same signed prekey and base key is refused.
class MemKyberPreKeyStore extends S.KyberPreKeyStore {
  constructor() {
    super();
    this.keys = new Map();
    this.used = new Set();
  }
  async saveKyberPreKey(id, record) {
    this.keys.set(id, record);
  }
  async getKyberPreKey(id) {
    const r = this.keys.get(id);
    if (!r) throw new Error(`no kyber prekey ${id}`);
    return r;
  }
  async markKyberPreKeyUsed(id, signedId, baseKey) {
    const k = `${id}/${signedId}/${hex(baseKey.serialize())}`;
    if (this.used.has(k)) throw new Error('kyber last-resort prekey already used with this base key');
    this.used.add(k);
  }
}

const SIGNED_ID = 1;
const KYBER_ID = 1;
const DEVICE = 1;
let nextHandle = 1;
const parties = new Map();
const sessions = new Map();

function createParty(n) {
  if (!Number.isInteger(n) || n < 0 || n > 100) throw new WireError('one_time_prekeys');
  const identity = S.IdentityKeyPair.generate();
  const party = {
    identity,
    registrationId: 1 + Math.floor(Math.random() * 16380),
    address: S.ProtocolAddress.new(`party-${nextHandle}`, DEVICE),
    preKeys: new MemPreKeyStore(),
    signed: new MemSignedPreKeyStore(),
    kyber: new MemKyberPreKeyStore(),
    secretsList: [identity.privateKey.serialize()],
  };
  const spk = S.PrivateKey.generate();
  const spkSig = identity.privateKey.sign(spk.getPublicKey().serialize());
  party.signed.keys.set(SIGNED_ID, S.SignedPreKeyRecord.new(SIGNED_ID, Date.now(), spk.getPublicKey(), spk, spkSig));
  party.secretsList.push(spk.serialize());
  const kem = S.KEMKeyPair.generate();
  const kemSig = identity.privateKey.sign(kem.getPublicKey().serialize());
  party.kyber.keys.set(KYBER_ID, S.KyberPreKeyRecord.new(KYBER_ID, Date.now(), kem, kemSig));
  party.secretsList.push(kem.getSecretKey().serialize());
  for (let i = 1; i <= n; i++) {
    const k = S.PrivateKey.generate();
    party.preKeys.keys.set(i, S.PreKeyRecord.new(i, k.getPublicKey(), k));
    party.secretsList.push(k.serialize());
  }
  const h = `p${nextHandle++}`;
  parties.set(h, party);
  return h;
}

// Bundle encoding (the adapter's own): JSON of the PreKeyBundle fields, hex.
function publishBundle(party, withOtk) {
  const p = getParty(party);
  let otkId = null;
  let otkPub = null;
  if (withOtk) {
    const ids = [...p.preKeys.keys.keys()].sort((a, b) => a - b);
    if (ids.length === 0) throw new Unsupported('no unused one-time prekey left');
    otkId = ids[0];
    otkPub = hex(p.preKeys.keys.get(otkId).publicKey().serialize());
  }
  const spk = p.signed.keys.get(SIGNED_ID);
  const kyb = p.kyber.keys.get(KYBER_ID);
  const b = {
    registration_id: p.registrationId,
    device_id: DEVICE,
    prekey_id: otkId,
    prekey: otkPub,
    signed_prekey_id: SIGNED_ID,
    signed_prekey: hex(spk.publicKey().serialize()),
    signed_prekey_signature: hex(spk.signature()),
    identity_key: hex(p.identity.publicKey.serialize()),
    kyber_prekey_id: KYBER_ID,
    kyber_prekey: hex(kyb.publicKey().serialize()),
    kyber_prekey_signature: hex(kyb.signature()),
  };
  return { bundle: hex(Buffer.from(JSON.stringify(b))), one_time_prekey_id: otkId === null ? null : String(otkId) };
}

function parseBundle(bundleHex) {
  let b;
  try {
    b = JSON.parse(Buffer.from(unhex(bundleHex)).toString('utf8'));
  } catch (e) {
    throw new WireError(`bundle: ${e.message}`);
  }
  return S.PreKeyBundle.new(
    b.registration_id,
    b.device_id,
    b.prekey_id,
    b.prekey === null ? null : S.PublicKey.deserialize(unhex(b.prekey)),
    b.signed_prekey_id,
    S.PublicKey.deserialize(unhex(b.signed_prekey)),
    unhex(b.signed_prekey_signature),
    S.PublicKey.deserialize(unhex(b.identity_key)),
    b.kyber_prekey_id,
    S.KEMPublicKey.deserialize(unhex(b.kyber_prekey)),
    unhex(b.kyber_prekey_signature),
  );
}

function newSession(partyHandle) {
  const p = getParty(partyHandle);
  return {
    party: partyHandle,
    remote: S.ProtocolAddress.new(`peer-${nextHandle}`, DEVICE),
    store: new MemSessionStore(),
    ids: new MemIdentityStore(p),
  };
}
function addSession(s) {
  const h = `s${nextHandle++}`;
  sessions.set(h, s);
  return h;
}
function getParty(h) {
  const p = parties.get(h);
  if (!p) throw new WireError('unknown party');
  return p;
}
function getSession(h) {
  const s = sessions.get(h);
  if (!s) throw new WireError('unknown session');
  return s;
}

// export_state: the adapter's encoding of everything a session needs:
// SessionRecord.serialize() plus the remote identity the session trusts
// (TOFU). Parsed back by import_state.
function exportState(s) {
  if (!s.store.record) throw new WireError('empty session');
  const rec = s.store.record.serialize();
  const rid = s.ids.remote ? s.ids.remote.serialize() : new Uint8Array(0);
  const out = Buffer.alloc(4 + rid.length + rec.length);
  out.writeUInt32BE(rid.length, 0);
  Buffer.from(rid).copy(out, 4);
  Buffer.from(rec).copy(out, 4 + rid.length);
  return hex(out);
}
function importState(partyHandle, stateHex) {
  const b = Buffer.from(unhex(stateHex));
  if (b.length < 4) throw new WireError('short state');
  const n = b.readUInt32BE(0);
  if (4 + n > b.length) throw new WireError('short state');
  const s = newSession(partyHandle);
  let record;
  try {
    if (n > 0) s.ids.remote = S.PublicKey.deserialize(new Uint8Array(b.subarray(4, 4 + n)));
    record = S.SessionRecord.deserialize(new Uint8Array(b.subarray(4 + n)));
  } catch (e) {
    throw new WireError(`state: ${e.message}`);
  }
  s.store.record = record;
  return addSession(s);
}

// Layout: version byte || protobuf || 8-byte MAC for a SignalMessage;
// version byte || protobuf for a PreKeySignalMessage, whose field 4 holds a
// whole SignalMessage. Offsets are parsed from the protobuf.
const WIRE_NAMES = {
  signal: { 1: 'ratchet_key', 2: 'counter', 3: 'previous_counter', 4: 'ciphertext', 5: 'pq_ratchet', 6: 'addresses' },
  prekey: {
    1: 'pre_key_id',
    2: 'base_key',
    3: 'identity_key',
    4: 'message',
    5: 'registration_id',
    6: 'signed_pre_key_id',
    7: 'kyber_pre_key_id',
    8: 'kyber_ciphertext',
  },
};
// One protobuf field as layout entries: its tag, its length prefix (bytes
// fields) and its value, at `base` + the field's offset.
function pushField(out, f, base, name, authenticated) {
  out.push({ name: `${name}_tag`, offset: base + f.start, length: f.valueStart - f.start, authenticated });
  if (f.dataStart > f.valueStart) {
    out.push({ name: `${name}_len`, offset: base + f.valueStart, length: f.dataStart - f.valueStart, authenticated });
  }
  if (f.end > f.dataStart) out.push({ name, offset: base + f.dataStart, length: f.end - f.dataStart, authenticated });
}
function signalLayout(msg, base, prefix) {
  const out = [{ name: `${prefix}version`, offset: base, length: 1, authenticated: true }];
  const body = msg.subarray(1, msg.length - 8);
  let ratchet = null;
  let counter = null;
  for (const f of fields(body)) {
    const name = WIRE_NAMES.signal[f.no] ?? `field_${f.no}`;
    // The MAC covers the version byte and the whole protobuf.
    pushField(out, f, base + 1, `${prefix}${name}`, true);
    if (f.no === 1) ratchet = f.value;
    if (f.no === 2) counter = f.value;
  }
  out.push({ name: `${prefix}mac`, offset: base + msg.length - 8, length: 8, authenticated: true });
  return { out, ratchet, counter };
}
function layout(msgHex) {
  const m = unhex(msgHex);
  if (m.length < 10) throw new WireError('short message');
  let kind = 'message';
  try {
    S.SignalMessage.deserialize(m);
  } catch {
    S.PreKeySignalMessage.deserialize(m);
    kind = 'first';
  }
  if (kind === 'message') {
    const { out, ratchet, counter } = signalLayout(m, 0, '');
    return { kind, ratchet_key: hex(ratchet), counter, fields: out };
  }
  const outFields = [{ name: 'version', offset: 0, length: 1, authenticated: true }];
  let inner = null;
  for (const f of fields(m.subarray(1))) {
    const name = WIRE_NAMES.prekey[f.no] ?? `field_${f.no}`;
    // Outer fields feed the key agreement (a changed key or id gives other
    // keys, so the inner MAC fails), except registration_id, which the
    // library only reports to the application (README.md).
    const auth = f.no !== 5;
    if (f.no === 4) {
      pushField(outFields, { ...f, end: f.dataStart }, 1, name, auth);
      inner = signalLayout(f.value, 1 + f.dataStart, 'message.');
      outFields.push(...inner.out);
    } else {
      pushField(outFields, f, 1, name, auth);
    }
  }
  return { kind, ratchet_key: hex(inner.ratchet), counter: inner.counter, fields: outFields };
}

async function handle(req) {
  switch (req.op) {
    case 'create_party':
      return { party: createParty(req.one_time_prekeys) };
    case 'publish_bundle':
      return publishBundle(req.party, req.one_time_prekey === true);
    case 'unused_prekeys': {
      const p = getParty(req.party);
      return { ids: [...p.preKeys.keys.keys()].sort((a, b) => a - b).map(String) };
    }
    case 'initiate': {
      const p = getParty(req.party);
      const bundle = parseBundle(req.bundle);
      const pt = unhex(req.plaintext);
      const s = newSession(req.party);
      await S.processPreKeyBundle(bundle, s.remote, p.address, s.store, s.ids);
      const ct = await S.signalEncrypt(pt, s.remote, p.address, s.store, s.ids);
      return { session: addSession(s), message: hex(ct.serialize()) };
    }
    case 'respond': {
      const p = getParty(req.party);
      const m = unhex(req.message);
      const s = newSession(req.party);
      let msg;
      try {
        msg = S.PreKeySignalMessage.deserialize(m);
      } catch (e) {
        throw new RejectError(e);
      }
      const pt = await S.signalDecryptPreKey(msg, s.remote, p.address, s.store, s.ids, p.preKeys, p.signed, p.kyber);
      return { session: addSession(s), plaintext: hex(pt) };
    }
    case 'encrypt': {
      const s = getSession(req.session);
      const p = getParty(s.party);
      const ct = await S.signalEncrypt(unhex(req.plaintext), s.remote, p.address, s.store, s.ids);
      return { message: hex(ct.serialize()) };
    }
    case 'decrypt': {
      const s = getSession(req.session);
      const p = getParty(s.party);
      const m = unhex(req.message);
      // A session that has not yet received a reply gets first messages
      // again from its peer (Signal does); any other message is a
      // SignalMessage. The type is told by trying to parse.
      let pt;
      let sig = null;
      try {
        sig = S.SignalMessage.deserialize(m);
      } catch {
        sig = null;
      }
      if (sig) {
        pt = await S.signalDecrypt(sig, s.remote, p.address, s.store, s.ids);
      } else {
        let pre;
        try {
          pre = S.PreKeySignalMessage.deserialize(m);
        } catch (e) {
          throw new RejectError(e);
        }
        pt = await S.signalDecryptPreKey(pre, s.remote, p.address, s.store, s.ids, p.preKeys, p.signed, p.kyber);
      }
      return { plaintext: hex(pt) };
    }
    case 'export_state':
      return { state: exportState(getSession(req.session)) };
    case 'import_state':
      return { session: importState(req.party, req.state) };
    case 'free': {
      if (!parties.delete(req.handle) && !sessions.delete(req.handle)) throw new WireError('unknown handle');
      return {};
    }
    case 'skipped_count': {
      const s = getSession(req.session);
      if (!s.store.record) return { count: 0 };
      const cur = one(fields(s.store.record.serialize()), 1);
      return { count: cur ? skippedInSession(cur) : 0 };
    }
    case 'secrets': {
      const out = [];
      if (parties.has(req.handle)) {
        out.push(...parties.get(req.handle).secretsList);
      } else {
        const s = getSession(req.handle);
        if (s.store.record) {
          const rf = fields(s.store.record.serialize());
          for (const sess of [...all(rf, 1), ...all(rf, 2)]) sessionSecrets(sess, out);
        }
      }
      return { secrets: [...new Set(out.map(hex))] };
    }
    case 'layout':
      return layout(req.message);
    default:
      throw new WireError(`unknown op ${req.op}`);
  }
}

class RejectError extends Error {}

function hello(req) {
  if (req.protocol !== 2) throw new WireError('protocol');
  return {
    name: `libsignal-client ${VERSION} (Signal, PQXDH)`,
    protocol: 2,
    library: { name: '@signalapp/libsignal-client', version: VERSION, licence: 'AGPL-3.0-only', family: 'signal' },
    errors: 'coarse',
    seedable: false,
    limits: {
      max_forward_jump: 24999,
      skipped_keys: { cap: 2000, scope: 'chain' },
      old_chains: 4,
      max_plaintext: null,
    },
    overhead: OVERHEAD,
    capabilities: ['state', 'skipped_count', 'secrets', 'layout'],
  };
}
// Measured (README.md, measure_overhead.js): len(message) - len(plaintext)
// over plaintexts of 0 to 1024 bytes and conversations with many turns.
const OVERHEAD = { first: [1705, 1800], message: [57, 130] };

function send(obj) {
  writeSync(1, JSON.stringify(obj) + '\n');
}

const rl = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of rl) {
  if (line.trim() === '') continue;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    process.stderr.write(`adapter: bad request line: ${e.message}\n`);
    send({ id: null, error: 'rejected' });
    continue;
  }
  try {
    const ok = req.op === 'hello' ? hello(req) : await handle(req);
    send({ id: req.id, ok });
  } catch (e) {
    if (e instanceof Unsupported) {
      send({ id: req.id, unsupported: e.message });
      continue;
    }
    const name = e instanceof S.LibSignalErrorBase ? `${e.name}/${e.code}` : e.constructor.name;
    process.stderr.write(`adapter: ${req.op} rejected: ${name}: ${e.message}\n`);
    const dup = e instanceof S.LibSignalErrorBase && e.code === S.ErrorCode.DuplicatedMessage;
    send({ id: req.id, error: dup ? 'duplicate' : 'rejected' });
  }
}
process.exit(0);
