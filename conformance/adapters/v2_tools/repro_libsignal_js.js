// Minimal reproducers, on the libraries directly (no adapter), of what a
// rejected message does to the session of npm `libsignal` 6.x and npm
// `libsignal-node` 2.x. README.md of conformance/adapters/libsignal-wa
// explains them.
//
//   node conformance/adapters/v2_tools/repro_libsignal_js.js libsignal-wa
//   node conformance/adapters/v2_tools/repro_libsignal_js.js libsignal-node
//
// (after the adapter's run.sh has installed its packages). Prints one line
// per case, `reproduced` or `not reproduced`, then `N passed, M failed`
// where `passed` counts the library behaving as recorded in the README
// (each case reproduces under `live` and, where recorded, not under `copy`).
// Exit status 0 when every case behaves as recorded.
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');
const { Console } = require('node:console');

const which = process.argv[2];
const pkg = { 'libsignal-wa': 'libsignal', 'libsignal-node': 'libsignal-node' }[which];
if (!pkg) {
  process.stderr.write('usage: repro_libsignal_js.js libsignal-wa|libsignal-node\n');
  process.exit(2);
}
// The libraries log with console.*; keep stdout for the results.
// Everything they log is also kept in `logged`, for case 4.
const quiet = new Console({ stdout: process.stderr, stderr: process.stderr });
const util = require('node:util');
let logged = '';
for (const m of ['log', 'info', 'warn', 'error', 'debug']) {
  console[m] = (...args) => {
    logged += util.format(...args) + '\n';
    quiet[m](...args);
  };
}
const req = createRequire(path.join(__dirname, '..', which, 'package.json'));
const lib = req(pkg);
const { WhisperMessage, PreKeyWhisperMessage } = req(`${pkg}/src/protobufs.js`);

// A storage with one record per address, copy or live.
class Storage {
  constructor(discipline, identity, registrationId) {
    this.discipline = discipline;
    this.identity = identity;
    this.registrationId = registrationId;
    this.records = new Map();
    this.preKeys = new Map();
    this.signed = lib.keyhelper.generateSignedPreKey(identity, 1);
  }
  async loadSession(a) {
    const r = this.records.get(a);
    if (r === undefined) return undefined;
    return this.discipline === 'copy' ? lib.SessionRecord.deserialize(JSON.parse(r)) : r;
  }
  async storeSession(a, rec) {
    this.records.set(a, this.discipline === 'copy' ? JSON.stringify(rec.serialize()) : rec);
  }
  async isTrustedIdentity() {
    return true;
  }
  async getOurIdentity() {
    return this.identity;
  }
  async getOurRegistrationId() {
    return this.registrationId;
  }
  async loadPreKey(id) {
    return this.preKeys.get(id);
  }
  async loadSignedPreKey(id) {
    return id === 1 ? this.signed.keyPair : undefined;
  }
  async removePreKey(id) {
    this.preKeys.delete(id);
  }
  snapshot(a) {
    const r = this.records.get(a);
    return this.discipline === 'copy' ? r : JSON.stringify(r.serialize());
  }
}

function party(discipline) {
  const s = new Storage(discipline, lib.keyhelper.generateIdentityKeyPair(), lib.keyhelper.generateRegistrationId());
  s.preKeys.set(1, lib.keyhelper.generatePreKey(1).keyPair);
  return s;
}
const A = new lib.ProtocolAddress('alice', 1);
const B = new lib.ProtocolAddress('bob', 1);

// Alice starts a session with Bob (Bob's storage uses `discipline`); both
// have sent and received, so both are past the first messages.
async function established(discipline) {
  const alice = party('copy');
  const bob = party(discipline);
  await new lib.SessionBuilder(alice, B).initOutgoing({
    identityKey: bob.identity.pubKey,
    registrationId: bob.registrationId,
    preKey: { keyId: 1, publicKey: bob.preKeys.get(1).pubKey },
    signedPreKey: { keyId: 1, publicKey: bob.signed.keyPair.pubKey, signature: bob.signed.signature },
  });
  const aToB = new lib.SessionCipher(alice, B);
  const bToA = new lib.SessionCipher(bob, A);
  await bToA.decryptPreKeyWhisperMessage((await aToB.encrypt(Buffer.from('hello'))).body);
  await aToB.decryptWhisperMessage((await bToA.encrypt(Buffer.from('hi'))).body);
  return { alice, bob, aToB, bToA };
}

// WhisperMessage: version byte || protobuf || 8-byte MAC; the protobuf
// starts with field 1 (ephemeralKey: tag 0x0a, length 0x21, 33 bytes).
function withEphemeralKey(body, key) {
  const m = Buffer.from(body);
  if (m[1] !== 0x0a || m[2] !== 0x21) throw new Error('unexpected message layout');
  key.copy(m, 3);
  return m;
}
function withCounter(body, counter) {
  const proto = WhisperMessage.decode(body.subarray(1, body.length - 8));
  proto.counter = counter;
  const enc = Buffer.from(WhisperMessage.encode(proto).finish());
  return Buffer.concat([body.subarray(0, 1), enc, body.subarray(body.length - 8)]);
}
async function rejects(p) {
  try {
    await p;
    return false;
  } catch {
    return true;
  }
}
async function delivers(cipher, body, text) {
  try {
    return (await cipher.decryptWhisperMessage(body)).toString() === text;
  } catch {
    return false;
  }
}

// Case 1: one forged message with a fresh ephemeral key (a network attacker
// needs nothing secret: any 33-byte Curve25519 public key, any MAC).
async function freshRatchetKey(discipline) {
  const { bob, aToB, bToA } = await established(discipline);
  const m1 = (await aToB.encrypt(Buffer.from('m1'))).body;
  const before = bob.snapshot(A.toString());
  const forged = withEphemeralKey(m1, lib.curve.generateKeyPair().pubKey);
  const rejected = await rejects(bToA.decryptWhisperMessage(forged));
  const changed = bob.snapshot(A.toString()) !== before;
  // Afterwards: Alice's authentic message, and Bob's reply to Alice.
  const m1ok = await delivers(bToA, m1, 'm1');
  const reply = (await bToA.encrypt(Buffer.from('r1'))).body;
  const replyOk = await delivers(aToB, reply, 'r1');
  return { rejected, changed, broken: !m1ok || !replyOk, detail: `m1 delivered ${m1ok}, Bob's reply delivered ${replyOk}` };
}

// Case 2: one forged message with the current ratchet key and a later
// counter: the library deletes that counter's message key before checking
// the MAC, so the authentic message with that counter is refused later.
async function forgedCounter(discipline) {
  const { bob, aToB, bToA } = await established(discipline);
  const m1 = (await aToB.encrypt(Buffer.from('m1'))).body;
  const m2 = (await aToB.encrypt(Buffer.from('m2'))).body;
  const before = bob.snapshot(A.toString());
  // m1 re-encoded with m2's counter (its MAC no longer matches).
  const c2 = WhisperMessage.decode(m2.subarray(1, m2.length - 8)).counter;
  const rejected = await rejects(bToA.decryptWhisperMessage(withCounter(m1, c2)));
  const changed = bob.snapshot(A.toString()) !== before;
  const m2ok = await delivers(bToA, m2, 'm2');
  const m1ok = await delivers(bToA, m1, 'm1');
  return { rejected, changed, broken: !m2ok || !m1ok, detail: `m2 delivered ${m2ok}, m1 delivered ${m1ok}` };
}

// Case 3 (any store discipline): a record holding two sessions (Alice
// started a new one; Bob has the old one closed and the new one open). A late
// authentic message of the old session is tried on the open session first
// (SessionRecord.getSessions: most recently used first); that attempt steps
// the open session's ratchet with the old session's key before the MAC
// fails; the old session then decrypts the message, and the record, with the
// open session changed, is stored.
async function lateOldSessionMessage(discipline) {
  const { alice, bob, aToB, bToA } = await established(discipline);
  const late = (await aToB.encrypt(Buffer.from('late'))).body;
  await new Promise((r) => setTimeout(r, 5));
  bob.preKeys.set(2, lib.keyhelper.generatePreKey(2).keyPair);
  await new lib.SessionBuilder(alice, B).initOutgoing({
    identityKey: bob.identity.pubKey,
    registrationId: bob.registrationId,
    preKey: { keyId: 2, publicKey: bob.preKeys.get(2).pubKey },
    signedPreKey: { keyId: 1, publicKey: bob.signed.keyPair.pubKey, signature: bob.signed.signature },
  });
  await bToA.decryptPreKeyWhisperMessage((await aToB.encrypt(Buffer.from('new session'))).body);
  await aToB.decryptWhisperMessage((await bToA.encrypt(Buffer.from('ack'))).body);
  await new Promise((r) => setTimeout(r, 5));
  const n1 = (await aToB.encrypt(Buffer.from('n1'))).body;
  const before = bob.snapshot(A.toString());
  const lateOk = await delivers(bToA, late, 'late');
  const openBefore = JSON.parse(before)._sessions;
  const openAfter = JSON.parse(bob.snapshot(A.toString()))._sessions;
  const openKey = Object.keys(openBefore).find((k) => openBefore[k].indexInfo.closed === -1);
  const changed = JSON.stringify(openBefore[openKey].currentRatchet) !== JSON.stringify(openAfter[openKey].currentRatchet);
  const n1ok = await delivers(bToA, n1, 'n1');
  const reply = (await bToA.encrypt(Buffer.from('r'))).body;
  const replyOk = await delivers(aToB, reply, 'r');
  return { delivered: lateOk, changed, broken: !n1ok || !replyOk, detail: `late message delivered ${lateOk}, then n1 delivered ${n1ok}, Bob's reply delivered ${replyOk}` };
}

// Case 4 (any store discipline): a forged PreKeyWhisperMessage (a fresh base
// key, the peer's public identity key, signed prekey id 1, no one-time
// prekey, a junk inner message) sent on an established session. Before the
// inner MAC is checked, SessionBuilder.initIncoming closes the open session,
// and SessionRecord.closeSession logs it with console.info("Closing
// session:", session): Node prints the SessionEntry, with the root key and
// the ratchet private key. Under `live` the close also stays in the record.
async function forgedFirstMessageLogsKeys(discipline) {
  const { alice, bob, bToA } = await established(discipline);
  const open = () => {
    const rec = JSON.parse(bob.snapshot(A.toString()))._sessions;
    return Object.values(rec).find((e) => e.indexInfo.closed === -1);
  };
  const before = open();
  const rootKey = Buffer.from(before.currentRatchet.rootKey, 'base64');
  const priv = Buffer.from(before.currentRatchet.ephemeralKeyPair.privKey, 'base64');
  const forged = Buffer.concat([
    Buffer.from([0x33]),
    Buffer.from(
      PreKeyWhisperMessage.encode({
        baseKey: lib.curve.generateKeyPair().pubKey,
        identityKey: alice.identity.pubKey,
        registrationId: 1,
        signedPreKeyId: 1,
        message: Buffer.concat([Buffer.from([0x33]), Buffer.alloc(60, 7)]),
      }).finish(),
    ),
  ]);
  logged = '';
  const rejected = await rejects(bToA.decryptPreKeyWhisperMessage(forged));
  const render = (b) => util.inspect(b);
  const leaked = logged.includes(render(rootKey)) && logged.includes(render(priv));
  const after = open();
  const changed = !after || after.indexInfo.baseKey !== before.indexInfo.baseKey;
  return { rejected, leaked, changed, detail: `root key and ratchet private key in the log ${leaked}, open session replaced ${changed}` };
}

// Case 5: a bundle whose signed prekey carries a wrong signature (another
// key's signature) is accepted by SessionBuilder.initOutgoing: 6.x calls
// curve.verifySignature(..., isInit = true), which returns true without
// verifying; 2.x verifies but discards the result.
async function badSignedPreKeySignature() {
  const alice = party('copy');
  const bob = party('copy');
  const other = lib.keyhelper.generateSignedPreKey(lib.keyhelper.generateIdentityKeyPair(), 1);
  try {
    await new lib.SessionBuilder(alice, B).initOutgoing({
      identityKey: bob.identity.pubKey,
      registrationId: bob.registrationId,
      signedPreKey: { keyId: 1, publicKey: bob.signed.keyPair.pubKey, signature: other.signature },
    });
    return true;
  } catch {
    return false;
  }
}

async function main() {
  let passed = 0;
  let failed = 0;
  const cases = [
    ['fresh ratchet key in one forged message breaks the session', freshRatchetKey],
    ['forged counter deletes that message key', forgedCounter],
  ];
  const anyDiscipline = [['late message of a closed session changes the open one', lateOldSessionMessage]];
  for (const [name, fn] of cases) {
    for (const discipline of ['live', 'copy']) {
      const r = await fn(discipline);
      // Recorded: under `live` the rejected message changes the record and
      // breaks delivery; under `copy` neither happens.
      const expected = discipline === 'live';
      const reproduced = r.rejected && r.changed && r.broken;
      const ok = r.rejected && reproduced === expected && (expected || !r.changed);
      process.stdout.write(
        `${ok ? 'ok  ' : 'FAIL'} ${pkg} --store ${discipline}: ${name}: ${reproduced ? 'reproduced' : 'not reproduced'} ` +
          `(rejected ${r.rejected}, record changed ${r.changed}, ${r.detail})\n`,
      );
      if (ok) passed++;
      else failed++;
    }
  }
  for (const [name, fn] of anyDiscipline) {
    for (const discipline of ['live', 'copy']) {
      const r = await fn(discipline);
      // Recorded: under both disciplines the late message is delivered and
      // the open session is changed and broken.
      const ok = r.delivered && r.changed && r.broken;
      process.stdout.write(
        `${ok ? 'ok  ' : 'FAIL'} ${pkg} --store ${discipline}: ${name}: ${ok ? 'reproduced' : 'not reproduced'} (${r.detail}, open session changed ${r.changed})\n`,
      );
      if (ok) passed++;
      else failed++;
    }
  }
  for (const discipline of ['live', 'copy']) {
    const r = await forgedFirstMessageLogsKeys(discipline);
    // Recorded: rejected, keys logged under both; record changed under live only.
    const ok = r.rejected && r.leaked && r.changed === (discipline === 'live');
    process.stdout.write(
      `${ok ? 'ok  ' : 'FAIL'} ${pkg} --store ${discipline}: forged first message logs the open session's keys: ${r.leaked ? 'reproduced' : 'not reproduced'} (rejected ${r.rejected}, ${r.detail})\n`,
    );
    if (ok) passed++;
    else failed++;
  }
  {
    const accepted = await badSignedPreKeySignature();
    process.stdout.write(
      `${accepted ? 'ok  ' : 'FAIL'} ${pkg}: bundle with a wrong signed-prekey signature accepted: ${accepted ? 'reproduced' : 'not reproduced'}\n`,
    );
    if (accepted) passed++;
    else failed++;
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}
main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(2);
});
