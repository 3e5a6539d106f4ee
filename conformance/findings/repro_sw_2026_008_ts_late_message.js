// SW-2026-008: in @privacyresearch/libsignal-protocol-typescript 0.0.16, a
// late message of an older session, tried first on the open session, changes
// that session before its MAC fails; the change is stored with the record
// when the older session decrypts the message. The new session's next
// in-flight message is then lost, and both sides fall back to the old session.
//
//   node conformance/findings/repro_sw_2026_008_ts_late_message.js
//
// (after conformance/adapters/privacyresearch-ts/run.sh has installed its
// packages). Prints a control line (late message not delivered) and the case
// line; exit 0 when the control behaves and the case reproduces.
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

for (const m of ['log', 'info', 'warn', 'error', 'debug']) console[m] = () => {};
const req = createRequire(path.join(__dirname, '..', 'adapters', 'privacyresearch-ts', 'package.json'));
const PKG = '@privacyresearch/libsignal-protocol-typescript';
const S = req(PKG);
const { SessionRecord } = req(`${PKG}/lib/session-record`);
const ab = (b) => Uint8Array.from(b).buffer;
const bin = (s) => ab(Buffer.from(s, 'latin1'));
const hex = (b) => Buffer.from(b).toString('hex');
const dump = (o) => JSON.stringify(o, (k, v) => (v instanceof ArrayBuffer ? hex(v) : v));

// A store that trusts on first use and keeps records as the strings the
// library hands it (the library's own contract).
class Storage {
  constructor(identity, registrationId) {
    Object.assign(this, { identity, registrationId, records: new Map(), preKeys: new Map() });
  }
  async getIdentityKeyPair() { return this.identity; }
  async getLocalRegistrationId() { return this.registrationId; }
  async isTrustedIdentity() { return true; }
  async saveIdentity() { return false; }
  async loadPreKey(id) { return this.preKeys.get(Number(id)); }
  async storePreKey(id, kp) { this.preKeys.set(Number(id), kp); }
  async removePreKey(id) { this.preKeys.delete(Number(id)); }
  async loadSignedPreKey(id) { return Number(id) === 1 ? this.signed.keyPair : undefined; }
  async storeSignedPreKey() {}
  async removeSignedPreKey() {}
  async storeSession(a, r) { this.records.set(a, r); }
  async loadSession(a) { return this.records.get(a); }
}
async function party() {
  const id = await S.KeyHelper.generateIdentityKeyPair();
  const s = new Storage(id, S.KeyHelper.generateRegistrationId());
  s.signed = await S.KeyHelper.generateSignedPreKey(id, 1);
  for (let i = 1; i <= 2; i++) s.preKeys.set(i, (await S.KeyHelper.generatePreKey(i)).keyPair);
  return s;
}
const bundle = (p, preKeyId) => ({
  identityKey: p.identity.pubKey,
  registrationId: p.registrationId,
  preKey: { keyId: preKeyId, publicKey: p.preKeys.get(preKeyId).pubKey },
  signedPreKey: { keyId: 1, publicKey: p.signed.keyPair.pubKey, signature: p.signed.signature },
});
const ALICE = new S.SignalProtocolAddress('alice', 1);
const BOB = new S.SignalProtocolAddress('bob', 1);
const enc = async (c, text) => (await c.encrypt(ab(Buffer.from(text)))).body;
async function delivers(c, body, text) {
  try {
    return Buffer.from(await c.decryptWhisperMessage(bin(body), 'binary')).toString() === text;
  } catch {
    return false;
  }
}

async function run(deliverLate) {
  const alice = await party();
  const bob = await party();
  const aToB = new S.SessionCipher(alice, BOB);
  const bToA = new S.SessionCipher(bob, ALICE);
  await new S.SessionBuilder(alice, BOB).processPreKey(bundle(bob, 1));
  await bToA.decryptPreKeyWhisperMessage(bin(await enc(aToB, 'hello')), 'binary');
  await aToB.decryptWhisperMessage(bin(await enc(bToA, 'hi')), 'binary');
  const late = await enc(aToB, 'late'); // held back
  await new Promise((r) => setTimeout(r, 5));
  await new S.SessionBuilder(alice, BOB).processPreKey(bundle(bob, 2)); // session reset
  await bToA.decryptPreKeyWhisperMessage(bin(await enc(aToB, 'new session')), 'binary');
  await aToB.decryptWhisperMessage(bin(await enc(bToA, 'ack')), 'binary');
  const n1 = await enc(aToB, 'n1');
  const before = SessionRecord.deserialize(bob.records.get(ALICE.toString()));
  const newBase = hex(before.getOpenSession().indexInfo.baseKey);
  const pick = (rec) => rec.getSessions().find((s) => hex(s.indexInfo.baseKey) === newBase);
  const lateOk = deliverLate ? await delivers(bToA, late, 'late') : null;
  const after = SessionRecord.deserialize(bob.records.get(ALICE.toString()));
  const changed = dump(pick(after).chains) !== dump(pick(before).chains) || dump(pick(after).currentRatchet) !== dump(pick(before).currentRatchet);
  const n1ok = await delivers(bToA, n1, 'n1');
  const replyOk = await delivers(aToB, await enc(bToA, 'r'), 'r');
  const aliceBase = hex(SessionRecord.deserialize(alice.records.get(BOB.toString())).getOpenSession().indexInfo.baseKey);
  return { lateOk, changed, n1ok, replyOk, aliceOnNew: aliceBase === newBase };
}

(async () => {
  const control = await run(false);
  const c = await run(true);
  const line = (r) => `new session changed ${r.changed}; n1 delivered ${r.n1ok}; Bob's reply delivered ${r.replyOk}; Alice still on the new session ${r.aliceOnNew}`;
  process.stdout.write(`control (late message never delivered): ${line(control)}\n`);
  const ok = !control.changed && control.n1ok && control.aliceOnNew && c.lateOk && c.changed && !c.n1ok && !c.aliceOnNew;
  process.stdout.write(`${ok ? 'reproduced' : 'not reproduced'}: late message of the old session delivered ${c.lateOk}; ${line(c)}\n`);
  process.exit(ok ? 0 : 1);
})().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(2);
});
