// The black-box (protocol 2) adapter core shared by the two Node forks of
// Open Whisper Systems' libsignal-protocol-javascript: npm `libsignal` (6.x)
// and npm `libsignal-node` (2.x). They have one API (SessionBuilder,
// SessionCipher, SessionRecord, a storage object the application supplies);
// each adapter directory loads its own package and passes it in, so this
// file contains no library code and resolves no package itself.
//
// Store disciplines (`--store copy|live`): SessionCipher asks the storage for
// the session record on every operation (`loadSession`) and hands it back
// (`storeSession`) after a success. `copy`: the store keeps the serialized
// record and deserializes a fresh SessionRecord on every load. `live`: the
// store keeps the SessionRecord object it was given and returns that same
// object. The library's contract allows both.
'use strict';

const { Console } = require('node:console');
const { writeSync } = require('node:fs');
const readline = require('node:readline');

// stdout is the protocol channel: the libraries log with console.* directly.
function consoleToStderr() {
  const c = new Console({ stdout: process.stderr, stderr: process.stderr });
  for (const m of ['log', 'info', 'debug', 'warn', 'error', 'trace', 'dir', 'table']) console[m] = c[m].bind(c);
}

class WireError extends Error {}
class Unsupported extends Error {}

const hex = (b) => Buffer.from(b).toString('hex');
function unhex(s) {
  if (typeof s !== 'string' || s.length % 2 !== 0 || !/^[0-9a-f]*$/.test(s)) throw new WireError('bad hex');
  return Buffer.from(s, 'hex');
}

// Protobuf walking for `layout`, with protobufjs's Reader (passed in): the
// version-3 Signal wire format of both forks and of the TypeScript port
// (field numbers: the libraries' WhisperTextProtocol definitions).
function wireHelpers(Reader) {
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
        value = Buffer.from(r.buf.subarray(dataStart, dataStart + n));
        r.pos = dataStart + n;
      } else r.skipType(wt);
      out.push({ no, wt, start, valueStart, dataStart, end: r.pos, value });
    }
    return out;
  }
  function pushField(out, f, base, name, authenticated) {
    out.push({ name: `${name}_tag`, offset: base + f.start, length: f.valueStart - f.start, authenticated });
    if (f.dataStart > f.valueStart) {
      out.push({ name: `${name}_len`, offset: base + f.valueStart, length: f.dataStart - f.valueStart, authenticated });
    }
    if (f.end > f.dataStart) out.push({ name, offset: base + f.dataStart, length: f.end - f.dataStart, authenticated });
  }
  const WHISPER = { 1: 'ephemeral_key', 2: 'counter', 3: 'previous_counter', 4: 'ciphertext' };
  const PREKEY = { 1: 'pre_key_id', 2: 'base_key', 3: 'identity_key', 4: 'message', 5: 'registration_id', 6: 'signed_pre_key_id' };
  // WhisperMessage: version byte || protobuf || 8-byte MAC. The MAC covers
  // both identity keys, a constant version byte and the protobuf, not the
  // message's own version byte, which the library only checks for
  // max >= 3 >= min (session_cipher.js, doDecryptWhisperMessage).
  function whisperLayout(msg, base, prefix) {
    const out = [{ name: `${prefix}version`, offset: base, length: 1, authenticated: false }];
    let ratchet = null;
    let counter = null;
    for (const f of fields(msg.subarray(1, msg.length - 8))) {
      pushField(out, f, base + 1, `${prefix}${WHISPER[f.no] ?? `field_${f.no}`}`, true);
      if (f.no === 1) ratchet = f.value;
      if (f.no === 2) counter = f.value;
    }
    out.push({ name: `${prefix}mac`, offset: base + msg.length - 8, length: 8, authenticated: true });
    return { out, ratchet, counter };
  }
  // Which kind a message is travels outside the ciphertext in the
  // applications (WhatsApp's "pkmsg" / "msg"); protocol 2 has no such member,
  // so it is told from the bytes: protobufjs writes fields in number order,
  // and a WhisperMessage starts with field 1 as bytes (ephemeralKey, tag
  // 0x0a) where a PreKeyWhisperMessage starts with field 1 as a varint
  // (preKeyId, 0x08) or field 2 (baseKey, 0x12).
  function isPreKeyMessage(m) {
    return m.length > 1 && m[1] !== 0x0a;
  }
  function layout(m) {
    if (m.length < 10) throw new WireError('short message');
    if (!isPreKeyMessage(m)) {
      const { out, ratchet, counter } = whisperLayout(m, 0, '');
      return { kind: 'message', ratchet_key: hex(ratchet), counter, fields: out };
    }
    // PreKeyWhisperMessage: version byte || protobuf, no MAC of its own. Keys
    // and prekey ids feed the key agreement (another value gives other keys,
    // so the inner MAC fails); the version byte and registration id do not.
    const out = [{ name: 'version', offset: 0, length: 1, authenticated: false }];
    let inner = null;
    for (const f of fields(m.subarray(1))) {
      const name = PREKEY[f.no] ?? `field_${f.no}`;
      const auth = f.no !== 5;
      if (f.no === 4) {
        pushField(out, { ...f, end: f.dataStart }, 1, name, true);
        inner = whisperLayout(f.value, 1 + f.dataStart, 'message.');
        out.push(...inner.out);
      } else pushField(out, f, 1, name, auth);
    }
    return { kind: 'first', ratchet_key: hex(inner.ratchet), counter: inner.counter, fields: out };
  }
  return { layout, isPreKeyMessage };
}

// The protocol-2 request loop: one JSON request per line on stdin, one
// answer per line on stdout (written synchronously, so flushed), error text to
// stderr only. `errorClass(e)` maps a library error to `rejected` or
// `duplicate`.
async function serve({ hello, handle, errorClass }) {
  const send = (o) => writeSync(1, JSON.stringify(o) + '\n');
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
      send({ id: req.id, ok: req.op === 'hello' ? hello(req) : await handle(req) });
    } catch (e) {
      if (e instanceof Unsupported) {
        send({ id: req.id, unsupported: e.message });
        continue;
      }
      process.stderr.write(`adapter: ${req.op} rejected: ${e.name}: ${e.message}\n`);
      send({ id: req.id, error: errorClass(e) });
    }
  }
}

// Seeded randomness for the forks. They draw every random value from Node's
// crypto module at call time: key pairs from
// generateKeyPairSync('x25519', DER encodings) (curve.js, generateKeyPair),
// registration ids from randomBytes(2) (keyhelper.js); signatures
// (curve25519-js sign without its optional random argument) and IVs (derived
// from message keys) draw none. The library has no hook, so the adapter
// replaces those two functions of Node's crypto module in its own process:
// randomBytes reads a ChaCha20 keystream (Node's OpenSSL) keyed with the
// hello's seed, and generateKeyPairSync('x25519') has OpenSSL make the key
// pair from 32 such bytes (createPrivateKey of the PKCS#8 encoding), returning
// the same DER encodings, so the library runs its usual code path. No library
// file is changed. The library's clock, Date.now() (session timestamps in
// records), becomes a counter, so the same requests give the same bytes.
function seedNodeCrypto(seedHex) {
  const nodeCrypto = require('node:crypto');
  const key = Buffer.from(seedHex, 'hex');
  const stream = nodeCrypto.createCipheriv('chacha20', key, Buffer.alloc(16));
  const draw = (n) => stream.update(Buffer.alloc(n));
  const realGenerate = nodeCrypto.generateKeyPairSync;
  const PKCS8_X25519 = Buffer.from([48, 46, 2, 1, 0, 48, 5, 6, 3, 43, 101, 110, 4, 34, 4, 32]);
  nodeCrypto.randomBytes = (n, cb) => {
    if (cb) throw new Error('seeded randomBytes: no callback form');
    return draw(n);
  };
  nodeCrypto.generateKeyPairSync = (type, options) => {
    if (type !== 'x25519') return realGenerate(type, options);
    const privateKey = nodeCrypto.createPrivateKey({ key: Buffer.concat([PKCS8_X25519, draw(32)]), format: 'der', type: 'pkcs8' });
    const publicKey = nodeCrypto.createPublicKey(privateKey);
    const enc = (k, o) => (o ? k.export(o) : k);
    return { publicKey: enc(publicKey, options && options.publicKeyEncoding), privateKey: enc(privateKey, options && options.privateKeyEncoding) };
  };
  let clock = 1_700_000_000_000;
  Date.now = () => clock++;
}

function parseArgs(argv) {
  let store = null;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--store' && i + 1 < argv.length) store = argv[++i];
    else throw new Error(`unknown argument ${argv[i]} (usage: --store copy|live)`);
  }
  if (store !== 'copy' && store !== 'live') throw new Error('--store copy|live is required');
  return { store };
}

// opts: { lib, libName, libVersion, licence, Reader (protobufjs/minimal), argv }
async function main(opts) {
  consoleToStderr();
  const { lib, Reader } = opts;
  const { store: discipline } = parseArgs(opts.argv);

  const { layout, isPreKeyMessage } = wireHelpers(Reader);

  // ---- stores. One identity/prekey world per party; one storage object per
  // session, holding one session record under one address, so every session
  // handle is independent.
  class SessionStorage {
    constructor(party) {
      this.party = party;
      this.slot = null; // copy: the serialized record (JSON text); live: the SessionRecord
      this.remoteIdentity = null; // trusted on first use
    }
    async loadSession(_addr) {
      if (this.slot === null) return undefined;
      return discipline === 'copy' ? lib.SessionRecord.deserialize(JSON.parse(this.slot)) : this.slot;
    }
    async storeSession(_addr, record) {
      this.slot = discipline === 'copy' ? JSON.stringify(record.serialize()) : record;
    }
    async isTrustedIdentity(_id, key) {
      if (this.remoteIdentity === null) {
        this.pendingIdentity = Buffer.from(key);
        return true;
      }
      return this.remoteIdentity.equals(key);
    }
    async getOurIdentity() {
      return this.party.identity;
    }
    async getOurRegistrationId() {
      return this.party.registrationId;
    }
    async loadPreKey(id) {
      const k = this.party.preKeys.get(id);
      return k ? { pubKey: k.pubKey, privKey: k.privKey } : undefined;
    }
    async loadSignedPreKey(id) {
      const k = id === this.party.signed.keyId ? this.party.signed.keyPair : undefined;
      return k ? { pubKey: k.pubKey, privKey: k.privKey } : undefined;
    }
    async removePreKey(id) {
      this.party.preKeys.delete(id);
    }
    // The identity the library asked about becomes the trusted one once an
    // operation succeeded.
    commitIdentity() {
      if (this.remoteIdentity === null && this.pendingIdentity) this.remoteIdentity = this.pendingIdentity;
    }
    record() {
      if (this.slot === null) return null;
      return discipline === 'copy' ? lib.SessionRecord.deserialize(JSON.parse(this.slot)) : this.slot;
    }
  }

  const DEVICE = 1;
  const SIGNED_ID = 1;
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
    const storage = new SessionStorage(getParty(partyHandle));
    const addr = new lib.ProtocolAddress(`peer${next}`, DEVICE);
    return { party: partyHandle, storage, addr, cipher: new lib.SessionCipher(storage, addr) };
  }
  function addSession(s) {
    const h = `s${next++}`;
    sessions.set(h, s);
    return h;
  }

  function createParty(n) {
    if (!Number.isInteger(n) || n < 0 || n > 100) throw new WireError('one_time_prekeys');
    const identity = lib.keyhelper.generateIdentityKeyPair();
    const party = {
      identity,
      registrationId: lib.keyhelper.generateRegistrationId(),
      signed: lib.keyhelper.generateSignedPreKey(identity, SIGNED_ID),
      preKeys: new Map(),
    };
    for (let i = 1; i <= n; i++) party.preKeys.set(i, lib.keyhelper.generatePreKey(i).keyPair);
    const h = `p${next++}`;
    parties.set(h, party);
    return h;
  }

  // Bundle encoding (the adapter's own): JSON of the device fields the
  // library's SessionBuilder.initOutgoing reads, hex-encoded.
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
      identityKey: unhex(b.identityKey),
      registrationId: b.registrationId,
      signedPreKey: { keyId: b.signedPreKey.keyId, publicKey: unhex(b.signedPreKey.publicKey), signature: unhex(b.signedPreKey.signature) },
    };
    if (b.preKey) device.preKey = { keyId: b.preKey.keyId, publicKey: unhex(b.preKey.publicKey) };
    return device;
  }

  // export_state: JSON of { trusted remote identity, SessionRecord.serialize() }.
  function exportState(s) {
    const rec = s.storage.record();
    if (!rec) throw new WireError('empty session');
    const id = s.storage.remoteIdentity ? s.storage.remoteIdentity.toString('base64') : null;
    return hex(Buffer.from(JSON.stringify({ remoteIdentity: id, record: rec.serialize() })));
  }
  function importState(partyHandle, stateHex) {
    let st;
    let rec;
    try {
      st = JSON.parse(unhex(stateHex).toString('utf8'));
      rec = lib.SessionRecord.deserialize(st.record);
    } catch (e) {
      throw new WireError(`state: ${e.message}`);
    }
    const s = newSession(partyHandle);
    if (st.remoteIdentity) s.storage.remoteIdentity = Buffer.from(st.remoteIdentity, 'base64');
    s.storage.slot = discipline === 'copy' ? JSON.stringify(rec.serialize()) : rec;
    return addSession(s);
  }

  function sessionSecrets(rec) {
    const out = [];
    for (const entry of Object.values(rec.sessions)) {
      out.push(entry.currentRatchet.rootKey, entry.currentRatchet.ephemeralKeyPair.privKey);
      for (const [, chain] of entry.chains()) {
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
    for (const [, chain] of open.chains()) n += Object.keys(chain.messageKeys).length;
    return n;
  }

  async function handle(req) {
    switch (req.op) {
      case 'create_party':
        return { party: createParty(req.one_time_prekeys) };
      case 'publish_bundle':
        return publishBundle(req.party, req.one_time_prekey === true);
      case 'unused_prekeys':
        return { ids: [...getParty(req.party).preKeys.keys()].sort((a, b) => a - b).map(String) };
      case 'initiate': {
        const device = parseBundle(req.bundle);
        const pt = unhex(req.plaintext);
        const s = newSession(req.party);
        await new lib.SessionBuilder(s.storage, s.addr).initOutgoing(device);
        const { body } = await s.cipher.encrypt(pt);
        s.storage.commitIdentity();
        return { session: addSession(s), message: hex(body) };
      }
      case 'respond': {
        const m = unhex(req.message);
        const s = newSession(req.party);
        const pt = await s.cipher.decryptPreKeyWhisperMessage(m);
        s.storage.commitIdentity();
        return { session: addSession(s), plaintext: hex(pt) };
      }
      case 'encrypt': {
        const s = getSession(req.session);
        const { body } = await s.cipher.encrypt(unhex(req.plaintext));
        return { message: hex(body) };
      }
      case 'decrypt': {
        const s = getSession(req.session);
        const m = unhex(req.message);
        const pt = isPreKeyMessage(m) ? await s.cipher.decryptPreKeyWhisperMessage(m) : await s.cipher.decryptWhisperMessage(m);
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
        const rec = getSession(req.session).storage.record();
        return { count: rec ? skipped(rec) : 0 };
      }
      case 'secrets': {
        let out;
        if (parties.has(req.handle)) {
          const p = parties.get(req.handle);
          out = [p.identity.privKey, p.signed.keyPair.privKey, ...[...p.preKeys.values()].map((k) => k.privKey)];
        } else {
          const rec = getSession(req.handle).storage.record();
          out = rec ? sessionSecrets(rec) : [];
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
    seedNodeCrypto(req.seed);
    return {
      name: `${opts.libName} ${opts.libVersion} (store: ${discipline})`,
      protocol: 2,
      library: { name: opts.libName, version: opts.libVersion, licence: opts.licence, family: 'signal' },
      errors: 'coarse',
      seedable: true,
      // session_cipher.js, fillMessageKeys: a counter more than 2000 past the
      // last derived one (-1 on a new chain) is refused, so a message skips at
      // most 1999 keys of its chain; message keys are kept per chain with no
      // cap, and every old receiving chain stays in the session (README.md).
      limits: { max_forward_jump: 1999, skipped_keys: { cap: null, scope: 'session' }, old_chains: null, max_plaintext: null },
      overhead: { first: [128, 170], message: [51, 78] },
      capabilities: ['state', 'skipped_count', 'secrets', 'layout'],
    };
  }

  await serve({ hello, handle, errorClass: (e) => (e instanceof lib.MessageCounterError ? 'duplicate' : 'rejected') });
}

module.exports = { main, serve, wireHelpers, consoleToStderr, hex, unhex, WireError, Unsupported };
