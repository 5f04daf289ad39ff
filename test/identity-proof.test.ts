/**
 * Impersonation: the handshake's claim of an identity key is checked by a signed fresh nonce
 * before the connection can join a cohort. Each attack is played by a hand-driven client against a real
 * coordinator on port 0: an impostor that knows only the victim's public key (connected or offline victim), a
 * replayed proof, a client that never answers, and a signature moved between claims.
 */
import { expect } from 'chai';
import nacl from 'tweetnacl';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { proofMessage, proofNonce, signProof, verifyProof } from '../shared/protocol/identity-proof.js';
import { connect } from '../client/session.js';
import { LocalTrainer } from '../client/trainer.js';
import { startFederation } from './helpers/federation.js';
import { rawClient } from './helpers/raw-client.js';
import { HELD_MS, HeldDeadlines } from './helpers/held-deadlines.js';
import type { RoundMetrics } from '../server/coordinator.js';

const data = makeSyntheticDataset({ count: 200, testCount: 40, seed: 4 });
const base = {
  numClients: 3,
  fraction: 1,
  rounds: 1,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: 2,
  method: 'fedavg',
};

describe('identity proof at every connection', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('signs a message that binds domain, nonce, client id and key', () => {
    const k = identityKeyPair();
    const n = proofNonce();
    const sig = signProof(n, 'alice', k);
    expect(verifyProof(n, 'alice', k.publicKey, sig)).to.equal(true);
    expect(verifyProof(proofNonce(), 'alice', k.publicKey, sig), 'another nonce').to.equal(false);
    expect(verifyProof(n, 'bob', k.publicKey, sig), 'another id').to.equal(false);
    expect(verifyProof(n, 'alice', identityKeyPair().publicKey, sig), 'another key').to.equal(false);
    // A signature of the bare nonce (what another protocol might sign) is not a proof.
    expect(verifyProof(n, 'alice', k.publicKey, nacl.sign.detached(n, k.secretKey))).to.equal(false);
    // Length prefixes: moving bytes between the id and the key changes the message.
    expect(Buffer.from(proofMessage(n, 'ab', k.publicKey)).equals(Buffer.from(proofMessage(n, 'a', Uint8Array.from([0x62, ...k.publicKey]))))).to.equal(false);
  });

  it('refuses an impostor holding only the public key of a connected client; the real one keeps its place', async () => {
    const f = await startFederation(data, base);
    try {
      const victim = f.clients[0]!;
      const victimId = f.ids[0]!;
      const victimPk = f.keys[0]!.publicKey;
      const impostor = rawClient(f.url, victimId, victimPk, { kind: 'sign', with: identityKeyPair() });
      expect(await impostor.outcome).to.match(new RegExp(`^refused: auth: client ${victimId}: the identity proof does not verify`));
      impostor.socket.close();
      expect(victim.socket.connected).to.equal(true);
      expect(f.coordinator.connected()).to.include(victimId);
      const rounds: RoundMetrics[] = [];
      await f.coordinator.run({ onRound: (m) => rounds.push(m) });
      expect(rounds[0]!.status).to.equal('completed');
      expect(rounds[0]!.trained).to.equal(3);
    } finally {
      await f.close();
    }
  });

  it('refuses an impostor claiming an offline client; the real client then joins', async () => {
    const f = await startFederation(data, base, {}, false);
    const keys = identityKeyPair();
    f.coordinator.enrol('dev', keys.publicKey);
    const t = new LocalTrainer(data.train, [0, 1, 2, 3]);
    try {
      // The real client joins once (binding its key), then leaves.
      const first = connect(f.url, { clientId: 'dev', token: 'secret', identity: keys, trainer: t, reconnection: false });
      await first.ready;
      first.close();
      const impostor = rawClient(f.url, 'dev', keys.publicKey, { kind: 'sign', with: identityKeyPair() });
      expect(await impostor.outcome).to.match(/^refused: auth: client dev: the identity proof does not verify/);
      impostor.socket.close();
      expect(f.coordinator.connected()).to.not.include('dev');
      const again = connect(f.url, { clientId: 'dev', token: 'secret', identity: keys, trainer: t, reconnection: false });
      await again.ready;
      expect(f.coordinator.connected()).to.include('dev');
      again.close();
    } finally {
      t.dispose();
      await f.close();
    }
  });

  it('refuses a replayed proof: each connection gets a fresh nonce', async () => {
    const f = await startFederation(data, base, {}, false);
    const keys = identityKeyPair();
    f.coordinator.enrol('dev', keys.publicKey);
    try {
      const honest = rawClient(f.url, 'dev', keys.publicKey, { kind: 'sign', with: keys });
      expect(await honest.outcome).to.equal('accepted');
      honest.socket.close();
      const replay = rawClient(f.url, 'dev', keys.publicKey, { kind: 'fixed', signature: honest.signatures[0]! });
      expect(await replay.outcome).to.match(/^refused: auth: client dev: the identity proof does not verify/);
      expect(Buffer.from(replay.nonces[0]!).equals(Buffer.from(honest.nonces[0]!))).to.equal(false);
      replay.socket.close();
    } finally {
      await f.close();
    }
  });

  it('refuses a malformed proof and drops a client that never proves itself, without binding its id', async () => {
    // Open enrolment (no list), where a first proven join binds an id.
    // The auth deadline expires once the silent client has its challenge and every other one has answered.
    const held = new HeldDeadlines();
    const f = await startFederation(data, base, { timeoutsMs: { auth: HELD_MS }, deadlines: held, enrolment: undefined }, false);
    const keys = identityKeyPair();
    try {
      const malformed = rawClient(f.url, 'short', keys.publicKey, { kind: 'fixed', signature: new Uint8Array(10) });
      expect(await malformed.outcome).to.match(/^refused: bad-payload: identity proof\.signature: expected 128 lowercase hex digits/);
      malformed.socket.close();
      const silent = rawClient(f.url, 'mute', keys.publicKey, { kind: 'none', onChallenge: () => held.withhold() });
      expect(await silent.outcome).to.equal(`refused: timeout: mute did not prove its identity within ${HELD_MS} ms`);
      silent.socket.close();
      // The ids were never bound: another key may still claim them.
      const other = identityKeyPair();
      const later = rawClient(f.url, 'mute', other.publicKey, { kind: 'sign', with: other });
      expect(await later.outcome).to.equal('accepted');
      later.socket.close();
      expect(held.expired).to.equal(1);
    } finally {
      await f.close();
    }
  });
});
