/**
 * Sybils: open enrolment caps the identities one token may bind and the connections at once;
 * secure mode refuses a cohort in which one token holds all but one member (or t of them), so a Sybil attacker
 * cannot isolate an honest client's update; an enrolment list admits only its clients, each its own principal;
 * `rfl coordinator enrol` writes identity files (mode 0600) and the list. Real coordinator, real sessions.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { Coordinator, type RoundMetrics } from '../server/coordinator.js';
import { readEnrolment } from '../server/enrolment.js';
import { readIdentity } from '../client/identity-file.js';
import { connect, type ClientSession } from '../client/session.js';
import { LocalTrainer } from '../client/trainer.js';
import { rawClient } from './helpers/raw-client.js';
import { unpack } from '../shared/protocol/wire.js';

const data = makeSyntheticDataset({ count: 400, testCount: 40, seed: 11 });
const federated = {
  method: 'fedavg',
  model: 'linear',
  numClients: 8,
  fraction: 1,
  rounds: 1,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: 3,
};
const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'rfl-sybil-'));

describe('Sybils and enrolment', function () {
  this.timeout(120000);
  const open: { c?: Coordinator; sessions: ClientSession[]; trainers: LocalTrainer[] } = { sessions: [], trainers: [] };
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });
  afterEach(async () => {
    for (const s of open.sessions.splice(0)) s.close();
    for (const t of open.trainers.splice(0)) t.dispose();
    await open.c?.close();
    open.c = undefined;
  });

  const start = async (extra: Partial<ConstructorParameters<typeof Coordinator>[0]>, tokens: string[]): Promise<string> => {
    open.c = new Coordinator({ federated, data, tokens: new Set(tokens), runDir: tmp(), log: () => undefined, ...extra });
    return `http://127.0.0.1:${await open.c.listen(0)}`;
  };
  const join = async (url: string, id: string, token: string, identity = identityKeyPair()): Promise<ClientSession> => {
    const t = new LocalTrainer(
      data.train,
      [0, 1, 2, 3, 4, 5, 6, 7].map((k) => k + 8 * open.trainers.length),
    );
    open.trainers.push(t);
    const s = connect(url, { clientId: id, token, identity, trainer: t, reconnection: false, rounding: 'half-up' });
    open.sessions.push(s);
    await s.ready;
    return s;
  };

  it('caps the identities one token may bind; a known identity may still reconnect', async () => {
    const url = await start({ maxIdentitiesPerToken: 3 }, ['evil']);
    const keys = ['s0', 's1', 's2'].map(() => identityKeyPair());
    for (const [k, id] of ['s0', 's1', 's2'].entries()) expect(await rawClient(url, id, keys[k]!.publicKey, { kind: 'sign', with: keys[k]! }, 'evil').outcome).to.equal('accepted');
    const fourth = identityKeyPair();
    expect(await rawClient(url, 's3', fourth.publicKey, { kind: 'sign', with: fourth }, 'evil').outcome).to.match(/^error: sybil-cap: this token has bound its maximum of 3 client identities/);
    expect(await rawClient(url, 's0', keys[0]!.publicKey, { kind: 'sign', with: keys[0]! }, 'evil').outcome).to.equal('accepted');
  });

  it('counts claims still proving themselves against the cap, so many connections at once cannot slip past it', async () => {
    const url = await start({ maxIdentitiesPerToken: 1 }, ['evil']);
    // Six new identities on one token, all connecting before any has proved itself.
    const keys = Array.from({ length: 6 }, () => identityKeyPair());
    const outcomes = await Promise.all(keys.map((k, i) => rawClient(url, `race-${i}`, k.publicKey, { kind: 'sign', with: k }, 'evil').outcome));
    expect(outcomes.filter((o) => o === 'accepted')).to.have.length(1);
    expect(outcomes.filter((o) => /sybil-cap/.test(o))).to.have.length(5);
  });

  it('caps the connections at once', async () => {
    const url = await start({ maxConnections: 2 }, ['t']);
    const outcomes: string[] = [];
    for (const id of ['a', 'b', 'c']) {
      const k = identityKeyPair();
      outcomes.push(await rawClient(url, id, k.publicKey, { kind: 'sign', with: k }, 't').outcome);
    }
    expect(outcomes.slice(0, 2)).to.deep.equal(['accepted', 'accepted']);
    expect(outcomes[2]).to.match(/^error: busy: the coordinator holds its maximum of 2 connections/);
  });

  it('refuses a secure cohort in which one token holds all but one member, before anyone trains', async () => {
    // 1 honest client with its own token and 7 Sybils on one token: every cohort of 8 isolates the honest update.
    const url = await start({}, ['honest', 'evil']);
    await join(url, 'honest-0', 'honest');
    for (let k = 0; k < 7; k++) await join(url, `sybil-${k}`, 'evil');
    const rounds: RoundMetrics[] = [];
    await open.c!.run({ onRound: (m) => rounds.push(m) });
    expect(rounds[0]!.status).to.equal('aborted');
    expect(rounds[0]!.trained).to.equal(0);
    expect(rounds[0]!.abort).to.deep.include({ stage: 'privacy' });
    expect(rounds[0]!.abort!.reason).to.match(/^the cohort is not private: 7 of the 8 cohort members joined with one token/);
  });

  it('grouped aggregation: a group in which one token holds all but one member is left out before any key is exchanged', async () => {
    // 3 honest clients, each its own token, and 6 Sybils on one token, split into 3 groups of 3: a group holding an
    // honest client and two Sybils would hand that client's update to the token's holder.
    const url = await start({ federated: { ...federated, numClients: 9 }, secure: true, aggregation: { rule: 'grouped', groups: 3, across: 'median', minGroups: 1 } }, ['h0', 'h1', 'h2', 'evil']);
    const honest: ClientSession[] = [];
    for (let k = 0; k < 3; k++) honest.push(await join(url, `honest-${k}`, `h${k}`));
    for (let k = 0; k < 6; k++) await join(url, `sybil-${k}`, 'evil');
    // Every secure-sum cohort an honest client is asked to join, as it sees it.
    const seen: string[][] = [];
    for (const s of honest) {
      s.socket.prependAny((event: string, packed: unknown) => {
        if (event !== 'secagg:setup') return;
        const req = unpack(packed, 'test') as { cohort?: string[] };
        if (req.cohort !== undefined) seen.push(req.cohort);
      });
    }
    const rounds: RoundMetrics[] = [];
    await open.c!.run({ onRound: (m) => rounds.push(m) });
    expect(rounds[0]!.groups!.filter((g) => g.refused === 'privacy').length, 'the seed puts an honest client among Sybils').to.be.greaterThan(0);
    expect(seen.length, 'the honest clients were asked to join secure sums').to.be.greaterThan(0);
    for (const cohort of seen) {
      const sybils = cohort.filter((id) => id.startsWith('sybil-')).length;
      expect(cohort.length - sybils, `cohort ${cohort.join(',')}`).to.be.at.least(2);
    }
  });

  it('runs the same cohort when its members are enrolled, each its own principal, and refuses strangers', async () => {
    const ids = ['honest-0', ...Array.from({ length: 7 }, (_, k) => `peer-${k}`)];
    const keys = ids.map(() => identityKeyPair());
    const url = await start({ enrolment: new Map(ids.map((id, k) => [id, keys[k]!.publicKey])) }, []);
    for (const [k, id] of ids.entries()) await join(url, id, 'any', keys[k]!);
    const stranger = identityKeyPair();
    expect(await rawClient(url, 'sybil-x', stranger.publicKey, { kind: 'sign', with: stranger }, 'any').outcome).to.match(/^error: not-enrolled: client sybil-x is not enrolled/);
    const rounds: RoundMetrics[] = [];
    await open.c!.run({ onRound: (m) => rounds.push(m) });
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.trained).to.equal(8);
  });

  it('rfl coordinator enrol writes 0600 identity files and the list, and never overwrites', () => {
    const dir = tmp();
    const rfl = (...args: string[]) => spawnSync(process.execPath, [path.resolve('dist/cli/rfl.js'), ...args], { encoding: 'utf8', cwd: dir, timeout: 30000 });
    const r = rfl('coordinator', 'enrol', '--ids', 'alice,bob', '--keys-dir', 'keys', '--out', 'enrolment.json');
    expect(r.status, r.stderr).to.equal(0);
    const list = readEnrolment(path.join(dir, 'enrolment.json'));
    expect([...list.keys()]).to.deep.equal(['alice', 'bob']);
    const alice = readIdentity(path.join(dir, 'keys', 'alice.key'));
    expect(Buffer.from(alice.publicKey).equals(Buffer.from(list.get('alice')!))).to.equal(true);
    expect(statSync(path.join(dir, 'keys', 'alice.key')).mode & 0o777).to.equal(0o600);
    const again = rfl('coordinator', 'enrol', '--ids', 'carol,alice', '--keys-dir', 'keys', '--out', 'enrolment.json');
    expect(again.status).to.equal(2);
    expect(again.stderr.trim()).to.equal('ConfigError: client alice is already enrolled in enrolment.json');
    expect((JSON.parse(readFileSync(path.join(dir, 'enrolment.json'), 'utf8')) as { clients: unknown[] }).clients).to.have.length(2);
    const carol = rfl('coordinator', 'enrol', '--ids', 'carol');
    expect(carol.status, carol.stderr).to.equal(0);
    expect([...readEnrolment(path.join(dir, 'enrolment.json')).keys()]).to.deep.equal(['alice', 'bob', 'carol']);
  });
});
