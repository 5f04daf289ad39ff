/**
 * One client sending share boxes with garbage inside used to abort every secure round,
 * and one client reporting every peer's box as unopenable got them left out of the later sums. Now every client
 * opens its boxes at `checkBoxes`, before anything is masked, and proves a complaint with its round box key; the
 * coordinator opens the delivered box itself and blames the sender of garbage or the false accuser, exactly, and
 * the round completes without that client (spec §6.1). Real coordinator and clients; a hostile client is an honest
 * one whose messages are rewritten on the way in or out.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { pack, unpack, type Packed } from '../shared/protocol/wire.js';
import type { ClientSession } from '../client/session.js';
import type { Stage } from '../shared/secagg/messages.js';
import { startFederation } from './helpers/federation.js';
import type { RoundMetrics } from '../server/coordinator.js';

const data = makeSyntheticDataset({ count: 300, testCount: 40, seed: 12 });
const base = { numClients: 5, fraction: 1, rounds: 1, localEpochs: 1, batchSize: 32, lr: 0.05, sharedSetSize: 8, evalEvery: 1, evalAttacks: ['clean'], finalAttacks: ['clean'], seed: 9 };

type Handler = (raw: unknown, ack: (r: Packed) => void) => void;
/** Replaces this client's handler of secure-aggregation stage `stage` (its event `secagg:<stage>`) by `wrap(honest)`. */
function intercept(c: ClientSession, stage: Stage, wrap: (honest: Handler) => Handler): void {
  // Untyped on purpose: the hostile handler sends what the typed wire would not let an honest client send.
  const socket = c.socket as unknown as { listeners(e: string): Handler[]; off(e: string): void; on(e: string, f: Handler): void };
  const event = `secagg:${stage}`;
  const [honest] = socket.listeners(event);
  expect(honest, `a listener of ${event}`).to.be.a('function');
  socket.off(event);
  socket.on(event, wrap(honest!));
}

/** Rewrites this client's reply to secure-aggregation stage `stage` before it leaves. */
function rewriteReply(c: ClientSession, stage: Stage, rewrite: (reply: Record<string, unknown>, phase: string) => void): void {
  intercept(c, stage, (honest) => (raw, ack) => {
    const req = unpack(raw, 'test') as { env: { phase?: string } };
    honest(raw, (res) => {
      const r = unpack(res, 'test') as { ok: boolean; reply?: Record<string, unknown> };
      if (r.ok && r.reply !== undefined) rewrite(r.reply, req.env.phase ?? '');
      ack(pack(r));
    });
  });
}

/**
 * A false accuser with a valid proof: the boxes this client is given at checkBoxes are corrupted on the way in, so
 * it complains about `whom` with its real key and signature, as a lying client would; the coordinator's boxes are
 * sound.
 */
function falselyAccuse(c: ClientSession, whom: (peer: string) => boolean): void {
  intercept(c, 'checkBoxes', (honest) => (raw, ack) => {
    const req = unpack(raw, 'test') as { inbox?: { peer: string; box: Uint8Array }[] };
    for (const b of req.inbox ?? []) if (whom(b.peer)) b.box = Uint8Array.from(b.box, (x, i) => (i === 5 ? x ^ 1 : x));
    honest(pack(req), ack);
  });
}

async function run(
  method: string,
  hostile: (c: ClientSession, ids: string[]) => void,
  extra: Record<string, unknown> = {},
  numClients = base.numClients,
  hostiles = [2],
): Promise<{ rounds: RoundMetrics[]; ids: string[]; expected: Float32Array; got: Float32Array }> {
  const f = await startFederation(data, { ...base, method, numClients }, extra);
  for (const h of hostiles) hostile(f.clients[h]!, f.ids);
  const w0 = f.coordinator.globalWeights();
  const rounds: RoundMetrics[] = [];
  try {
    await f.coordinator.run({ onRound: (m) => rounds.push(m) });
    // The mean update of everyone but client 2 (meaningful for the 5-client runs that leave it out).
    const ws = [0, 1, 3, 4].map((k) => f.trainers[k]!.trainedWeights()!);
    const expected = new Float32Array(w0.length);
    for (let i = 0; i < w0.length; i++) expected[i] = w0[i]! + ws.reduce((a, w) => a + (w[i]! - w0[i]!), 0) / ws.length;
    return { rounds, ids: f.ids, expected, got: f.coordinator.globalWeights() };
  } finally {
    await f.close();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

describe('share-box disputes', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('a client sending garbage share boxes is left out and the round completes without it', async () => {
    const { rounds, ids, expected, got } = await run('fedavg', (c) =>
      rewriteReply(c, 'shareKeys', (reply) => {
        for (const b of reply['boxes'] as { box: Uint8Array }[]) b.box = new Uint8Array(randomBytes(b.box.length));
      }),
    );
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.excluded).to.deep.equal([ids[2]]);
    expect(rounds[0]!.survivors).to.equal(4);
    expect(maxDiff(got, expected)).to.be.below((2 * 8) / 2 ** 22 + 1e-6);
  });

  it("a client falsely reporting every peer's box as unopenable, with a valid proof, is the one left out; the accused stay in every sum", async () => {
    const { rounds, ids, expected, got } = await run('fed-bva', (c) => falselyAccuse(c, () => true));
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.excluded).to.deep.equal([ids[2]]);
    expect(rounds[0]!.survivors).to.equal(4);
    expect(rounds[0]!.bvaSums!.map((s) => s.survivors)).to.deep.equal([4, 4]);
    expect(maxDiff(got, expected)).to.be.below((2 * 8) / 2 ** 22 + 1e-6);
  });

  it('colluding accusers cannot have honest clients left out: each liar is blamed, and the round completes with every honest client', async () => {
    // 7 clients; clients 4, 5 and 6 all accuse clients 0, 1 and 2.
    const { rounds, ids } = await run('fedavg', (c, all) => falselyAccuse(c, (peer) => all.slice(0, 3).includes(peer)), {}, 7, [4, 5, 6]);
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.excluded).to.deep.equal(ids.slice(4));
    expect(rounds[0]!.survivors).to.equal(4);
  });

  it('a complaint in a later sum, which delivered no boxes, counts for nothing', async () => {
    const { rounds } = await run('fed-bva', (c, all) =>
      rewriteReply(c, 'collectMasked', (reply, phase) => {
        // Only in the BV sums (their requests carry no inbox), against everyone.
        if (phase !== 'model') reply['failedBoxes'] = all.filter((id) => id !== all[2]);
      }),
    );
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.bvaSums!.map((s) => s.survivors)).to.deep.equal([5, 5]);
  });

  it('in a grouped round, a Decent_BVA key agreement that aborts keeps the model update and falls back to the clean shared set', async () => {
    // 6 clients in 2 groups of 3; the cohort-wide BV session needs t = 4, and 3 clients send forged setup
    // signatures to it only, so its key agreement aborts after the groups' sums updated the model.
    const forgeBvSetup = (c: ClientSession): void =>
      intercept(c, 'setup', (honest) => (raw, ack) => {
        const req = unpack(raw, 'test') as { plannedSums?: { phase: string }[] };
        if (req.plannedSums?.[0]?.phase.startsWith('bva') !== true) return honest(raw, ack);
        honest(raw, (res) => {
          const r = unpack(res, 'test') as { ok: boolean; reply?: { signature: Uint8Array } };
          if (r.ok && r.reply !== undefined) r.reply.signature = new Uint8Array(64);
          ack(pack(r));
        });
      });
    const { rounds, got } = await run('fed-bva', forgeBvSetup, { aggregation: { rule: 'grouped', groups: 2, minGroups: 2 } }, 6, [0, 2, 4]);
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.bvaFallback).to.equal(true);
    expect(rounds[0]!.groups!.map((g) => g.survivors)).to.deep.equal([3, 3]);
    expect(got.some((w) => !Number.isFinite(w))).to.equal(false);
  });

  it('in a grouped round, a false accuser is left out of its group, which completes without it', async () => {
    // 8 clients in 2 groups of 4 (t = 3): the liar's group goes on with 3.
    const { rounds, ids } = await run('fedavg', (c) => falselyAccuse(c, () => true), { aggregation: { rule: 'grouped', groups: 2, minGroups: 2 } }, 8);
    expect(rounds[0]!.status).to.equal('completed');
    expect(rounds[0]!.excluded).to.deep.equal([ids[2]]);
    expect(rounds[0]!.groups!.map((g) => g.survivors).sort()).to.deep.equal([3, 4]);
  });
});
