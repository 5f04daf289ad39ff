/**
 * The secure-aggregation stage machines end to end, in memory (secure-aggregation.md §11 items 2–6 and the
 * multi-sum rules of §5): exact sums after dequantisation with dropouts at every stage, typed aborts below t,
 * the coordinator's view, tampering, replays, share discipline, the active model, and the SecAgg+ graph.
 */
import { expect } from 'chai';
import { makeCohort, clientIds } from './helpers/secagg-cohort.js';
import { resolveGraph } from '../server/secagg-session.js';
import { SecAggAbortedError, SecAggDisputeError, SecAggProtocolError, SecAggStageOrderError } from '../shared/secagg/errors.js';
import type { CheckBoxesReply } from '../shared/secagg/messages.js';
import { encodeVector, type VectorSpec } from '../shared/secagg/quantize.js';
import type { CollectMaskedReply, ShareKeysReply, UnmaskRequest } from '../shared/secagg/messages.js';

const d = 50;
const spec: VectorSpec = [{ name: 'x', length: d, c: 1, R: 2 ** 20, kind: 'signed' }];
const bvSpec: VectorSpec = [
  { name: 'p', length: 7, c: 1, R: 2 ** 20, kind: 'signed' },
  { name: 'clipped', length: 1, c: 1, R: 1000, kind: 'count' },
];
const threeSums = [
  { phase: 'model', spec },
  { phase: 'bva/0/p1', spec: bvSpec },
  { phase: 'bva/0/p2', spec },
];

/** Max |a − b| over all segments. */
function maxDiff(a: Float64Array[], b: Float64Array[]): number {
  let m = 0;
  a.forEach((seg, k) => seg.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k]![i]!)))));
  return m;
}

/** Quantisation bound of a sum of n inputs: each input is off by at most c/R (half-up rounding). */
const bound = (n: number, c = 1, R = 2 ** 20): number => (n * c) / R + 1e-9;

async function expectAbort(p: Promise<unknown>, stage: string): Promise<SecAggAbortedError> {
  try {
    await p;
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(SecAggAbortedError);
    expect((err as SecAggAbortedError).stage).to.equal(stage);
    return err as SecAggAbortedError;
  }
  throw new Error('expected a SecAggAbortedError');
}

/** Flips one bit of the share box client-001 sends client-002. */
const tamperBox001To002 = (stage: string, id: string, reply: unknown): unknown => {
  if (stage === 'shareKeys' && id === 'client-001') {
    const r = reply as ShareKeysReply;
    const box = r.boxes.find((b) => b.peer === 'client-002')!;
    box.box = box.box.slice();
    box.box[5]! ^= 1;
  }
  return reply;
};

describe('secure aggregation protocol (in memory)', function () {
  it('sums exactly (within quantisation) with full participation, over several sums with one key agreement', async () => {
    const c = makeCohort({ n: 6, sums: threeSums });
    await c.session.start();
    for (const s of threeSums) {
      const r = await c.session.sum(s.phase);
      expect(r.survivors).to.deep.equal(c.ids);
      expect(r.attempts).to.equal(1);
      expect(maxDiff(r.sums, c.plainSum(s.phase, c.ids))).to.be.below(bound(6));
    }
    // One key agreement for the round: setup and shareKeys once per client, then one masked vector per sum.
    expect(c.sent.get('setup')).to.equal(6);
    expect(c.sent.get('shareKeys')).to.equal(6);
    expect(c.sent.get('collectMasked')).to.equal(18);
  });

  const dropCases: { name: string; drops: Record<string, { stage: 'setup' | 'shareKeys' | 'collectMasked' | 'unmask'; phase?: string }>; survivors: number[] }[] = [
    { name: 'before setup', drops: { 'client-002': { stage: 'setup' } }, survivors: [1, 3, 4, 5, 6, 7] },
    { name: 'before shareKeys', drops: { 'client-003': { stage: 'shareKeys' } }, survivors: [1, 2, 4, 5, 6, 7] },
    { name: 'after shareKeys, before its first masked input (mask key reconstructed)', drops: { 'client-004': { stage: 'collectMasked', phase: 'model' } }, survivors: [1, 2, 3, 5, 6, 7] },
    { name: 'during unmask (harmless)', drops: { 'client-005': { stage: 'unmask', phase: 'model' } }, survivors: [1, 2, 3, 4, 5, 6, 7] },
    {
      name: 'n − t clients at once, at different stages',
      drops: { 'client-001': { stage: 'setup' }, 'client-002': { stage: 'shareKeys' }, 'client-003': { stage: 'collectMasked', phase: 'model' } },
      survivors: [4, 5, 6, 7],
    },
  ];
  for (const dc of dropCases) {
    it(`recovers from a drop ${dc.name}`, async () => {
      const c = makeCohort({ n: 7, sums: [{ phase: 'model', spec }], drops: dc.drops });
      expect(c.session.threshold).to.equal(4);
      await c.session.start();
      const r = await c.session.sum('model');
      const expected = dc.survivors.map((i) => c.ids[i - 1]!);
      expect(r.survivors).to.deep.equal(expected);
      expect(maxDiff(r.sums, c.plainSum('model', expected))).to.be.below(bound(expected.length));
    });
  }

  it('restarts a later sum when an already-unmasked client drops before sending y, then sums the rest exactly', async () => {
    const c = makeCohort({ n: 6, sums: threeSums, drops: { 'client-002': { stage: 'collectMasked', phase: 'bva/0/p1' } } });
    await c.session.start();
    const m = await c.session.sum('model');
    expect(m.survivors).to.have.length(6);
    const p1 = await c.session.sum('bva/0/p1');
    expect(p1.attempts).to.equal(2);
    const rest = c.ids.filter((id) => id !== 'client-002');
    expect(p1.survivors).to.deep.equal(rest);
    expect(maxDiff(p1.sums, c.plainSum('bva/0/p1', rest))).to.be.below(bound(5));
    expect(c.sent.get('reshare')).to.equal(5);
    const p2 = await c.session.sum('bva/0/p2');
    expect(p2.survivors).to.deep.equal(rest);
    expect(maxDiff(p2.sums, c.plainSum('bva/0/p2', rest))).to.be.below(bound(5));
  });

  it('aborts with a typed error when the restart budget is spent', async () => {
    const c = makeCohort({
      n: 7,
      sums: threeSums,
      drops: { 'client-002': { stage: 'collectMasked', phase: 'bva/0/p1' }, 'client-003': { stage: 'collectMasked', phase: 'bva/0/p1' } },
      session: { maxRestarts: 0 },
    });
    await c.session.start();
    await c.session.sum('model');
    const e = await expectAbort(c.session.sum('bva/0/p1'), 'collectMasked');
    expect(e.phase).to.equal('bva/0/p1');
  });

  for (const stage of ['setup', 'shareKeys', 'collectMasked', 'unmask'] as const) {
    it(`aborts below the threshold at ${stage}, naming stage, needed and got`, async () => {
      const drops = Object.fromEntries(
        clientIds(5)
          .slice(0, 3)
          .map((id) => [id, { stage, ...(stage === 'collectMasked' || stage === 'unmask' ? { phase: 'model' } : {}) }]),
      );
      const c = makeCohort({ n: 5, sums: [{ phase: 'model', spec }], drops });
      const run = async (): Promise<void> => {
        await c.session.start();
        await c.session.sum('model');
      };
      const e = await expectAbort(run(), stage);
      expect(e.needed).to.equal(3);
      expect(e.got).to.equal(2);
    });
  }

  it('never shows the coordinator a client input in the clear; masked vectors look uniform', async () => {
    const c = makeCohort({ n: 5, sums: [{ phase: 'model', spec: [{ name: 'x', length: 4000, c: 1, R: 2 ** 20, kind: 'signed' }] }], drops: { 'client-005': { stage: 'collectMasked' } } });
    await c.session.start();
    await c.session.sum('model');
    const ys = c.received.filter(([s]) => s === 'collectMasked').map(([, id, r]) => [id, (r as CollectMaskedReply).y] as const);
    expect(ys).to.have.length(4);
    for (const [id, y] of ys) {
      const q = encodeVector([{ name: 'x', length: 4000, c: 1, R: 2 ** 20, kind: 'signed' }], c.inputs.get(id)!.get('model')!, { rounding: 'half-up' }).vector;
      let equal = 0;
      for (let i = 0; i < q.length; i++) if (q[i] === y[i]) equal++;
      expect(equal, `${id}: coordinates equal to the plain input`).to.be.below(5);
      // Chi-square on the top 4 bits (16 bins) of every word: uniform at the 1e-4 level (critical value 44.3).
      const bins = new Array(16).fill(0) as number[];
      for (const w of y) bins[w >>> 28]! += 1;
      const e = y.length / 16;
      const chi = bins.reduce((a, b) => a + (b - e) ** 2 / e, 0);
      expect(chi, `${id}: chi-square`).to.be.below(44.3);
    }
    // The quantised inputs are far from uniform (all in [0, 2^20]): the same test would fail on them.
    const q0 = encodeVector([{ name: 'x', length: 4000, c: 1, R: 2 ** 20, kind: 'signed' }], c.inputs.get(ys[0]![0])!.get('model')!, { rounding: 'half-up' }).vector;
    expect(Math.max(...q0)).to.be.at.most(2 ** 20);
  });

  it("a garbage share box is attributed to its sender at checkBoxes, with the accuser's proof, before anything is masked", async () => {
    const c = makeCohort({ n: 6, sums: threeSums, tamper: tamperBox001To002 });
    let dispute: SecAggDisputeError | undefined;
    try {
      await c.session.start();
    } catch (err) {
      dispute = err as SecAggDisputeError;
    }
    expect(dispute).to.be.instanceOf(SecAggDisputeError);
    expect(dispute!.verdicts).to.deep.equal([{ accuser: 'client-002', accused: 'client-001', guilty: 'client-001', reason: 'garbage-box' }]);
    expect(dispute!.excluded).to.deep.equal(['client-001']);
    const report = c.received.find(([s, id]) => s === 'checkBoxes' && id === 'client-002')![2] as CheckBoxesReply;
    expect(report.failed).to.deep.equal(['client-001']);
    expect(report.cSk).to.be.instanceOf(Uint8Array);
    // The accuser left the key agreement, and nothing was masked under it.
    expect(c.clients.get('client-002')!.isClosed).to.equal(true);
    expect(c.sent.get('collectMasked')).to.equal(undefined);
  });

  it("a false complaint (the box opens with the accuser's own key) is attributed to the accuser", async () => {
    // The box reaches client-002 corrupted in transit, so it complains honestly; the coordinator opens the box it
    // delivered with 002's revealed key, finds it sound, and blames 002: exactly what a lying client gets.
    const c = makeCohort({
      n: 6,
      sums: threeSums,
      tamperRequest: (stage, id, request) => {
        if (stage !== 'checkBoxes' || id !== 'client-002') return request;
        const r = request as { inbox: { peer: string; box: Uint8Array }[] };
        return { ...r, inbox: r.inbox.map((b) => (b.peer === 'client-001' ? { ...b, box: b.box.map((x, i) => (i === 5 ? x ^ 1 : x)) } : b)) };
      },
    });
    const err = await c.session.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(SecAggDisputeError);
    expect((err as SecAggDisputeError).verdicts).to.deep.equal([{ accuser: 'client-002', accused: 'client-001', guilty: 'client-002', reason: 'box-opens' }]);
  });

  it("a complaint without a valid proof is the accuser's fault", async () => {
    const c = makeCohort({
      n: 6,
      sums: threeSums,
      tamper: (stage, id, reply) => {
        if (stage === 'checkBoxes' && id === 'client-002') {
          const r = reply as CheckBoxesReply;
          // A complaint with a signature, as a liar would send, but a made-up key.
          return r.failed.length > 0 ? { ...r, cSk: new Uint8Array(32).fill(7) } : r;
        }
        return tamperBox001To002(stage, id, reply);
      },
    });
    const err = await c.session.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as SecAggDisputeError).verdicts).to.deep.equal([{ accuser: 'client-002', accused: '', guilty: 'client-002', reason: 'bad-proof' }]);
  });

  it('honest-but-curious: a client silent at checkBoxes is a dropout; the sum is exact over the rest', async () => {
    const c = makeCohort({ n: 6, sums: threeSums, drops: { 'client-003': { stage: 'checkBoxes' } } });
    await c.session.start();
    const r = await c.session.sum('model');
    const rest = c.ids.filter((id) => id !== 'client-003');
    expect(r.survivors).to.deep.equal(rest);
    expect(maxDiff(r.sums, c.plainSum('model', rest))).to.be.below(bound(5));
  });

  it("active model: a client silent at checkBoxes means new keys (it may have complained unseen); clients refuse a first sum without every box sender's clean check", async () => {
    const silent = makeCohort({ n: 6, sums: threeSums, session: { threatModel: 'active' }, drops: { 'client-003': { stage: 'checkBoxes' } } });
    const err = await silent.session.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as SecAggDisputeError).verdicts).to.deep.equal([{ accuser: 'client-003', accused: '', guilty: 'client-003', reason: 'no-box-check' }]);
    // A coordinator that withholds the clean checks (as one going on after a complaint must) loses every client.
    const c = makeCohort({
      n: 6,
      sums: threeSums,
      session: { threatModel: 'active' },
      tamperRequest: (stage, _id, request) => {
        if (stage !== 'collectMasked') return request;
        const { boxChecks: _dropped, ...rest } = request as { boxChecks?: unknown };
        return rest;
      },
    });
    await c.session.start();
    const abort = await c.session.sum('model').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(abort).to.be.instanceOf(SecAggAbortedError);
    expect([...c.clients.values()].every((x) => x.isClosed)).to.equal(true);
  });

  it('excludes a client whose advertisement signature is forged, or whose key is low-order or duplicated', async () => {
    const c = makeCohort({
      n: 6,
      sums: [{ phase: 'model', spec }],
      tamper: (stage, id, reply) => {
        const r = reply as { cPk: Uint8Array; sPk: Uint8Array; signature: Uint8Array };
        if (stage === 'setup' && id === 'client-001') return { ...r, signature: r.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
        if (stage === 'setup' && id === 'client-002') return { ...r, sPk: new Uint8Array(32) };
        return reply;
      },
    });
    await c.session.start();
    const r = await c.session.sum('model');
    expect(r.survivors).to.deep.equal(c.ids.slice(2));
  });

  it('clients reject replays, skipped stages and other rounds with state unchanged, then go on', async () => {
    let lastUnmask: { id: string; req: UnmaskRequest } | undefined;
    const c = makeCohort({
      n: 5,
      sums: threeSums,
      tamperRequest: (stage, id, req) => {
        if (stage === 'unmask' && id === 'client-001') lastUnmask = { id, req: req as UnmaskRequest };
        return req;
      },
    });
    const client = c.clients.get('client-001')!;
    // A skipped stage: unmask before anything.
    try {
      await client.handle('unmask', { env: { runId: new Uint8Array(16), round: 1, stage: 'unmask', phase: 'model', attempt: 0 }, alive: [], dropped: [] });
      expect.fail('should refuse');
    } catch (e) {
      expect(e).to.be.instanceOf(SecAggStageOrderError);
    }
    await c.session.start();
    await c.session.sum('model');
    // A replayed unmask of the finished sum.
    try {
      await client.handle('unmask', lastUnmask!.req);
      expect.fail('should refuse');
    } catch (e) {
      expect(e).to.be.instanceOf(SecAggStageOrderError);
    }
    // The round goes on normally.
    const r = await c.session.sum('bva/0/p1');
    expect(r.survivors).to.deep.equal(c.ids);
  });

  it('a holder refuses to release both share kinds of one peer (share discipline across sums)', async () => {
    // A malicious coordinator: in the second sum it claims client-003 dropped and asks for its mask key,
    // although client-003's self-mask share was released in the first sum.
    const c = makeCohort({
      n: 6,
      sums: threeSums,
      tamperRequest: (stage, _id, req) => {
        const r = req as UnmaskRequest;
        if (stage === 'unmask' && r.env.phase === 'bva/0/p1') {
          return { ...r, alive: r.alive.filter((x) => x !== 'client-003'), dropped: [...r.dropped, 'client-003'] };
        }
        return req;
      },
    });
    await c.session.start();
    await c.session.sum('model');
    const e = await expectAbort(c.session.sum('bva/0/p1'), 'unmask');
    expect(e.got).to.equal(0);
    expect(c.clients.get('client-001')!.isClosed).to.equal(true);
  });

  it('active model: consistency signatures on U3 are required, then the sum is exact', async () => {
    const c = makeCohort({ n: 7, sums: threeSums, session: { threatModel: 'active' }, drops: { 'client-007': { stage: 'collectMasked', phase: 'model' } } });
    expect(c.session.threshold).to.equal(5); // ⌊2n/3⌋ + 1
    await c.session.start();
    const r = await c.session.sum('model');
    expect(r.survivors).to.have.length(6);
    expect(maxDiff(r.sums, c.plainSum('model', r.survivors))).to.be.below(bound(6));
    expect(c.sent.get('consistency')).to.equal(6);
  });

  it('rejects a coordinator that forwards a tampered advertisement set (client-side check)', async () => {
    const c = makeCohort({
      n: 5,
      sums: [{ phase: 'model', spec }],
      tamperRequest: (stage, id, req) => {
        if (stage === 'shareKeys' && id === 'client-001') {
          const r = req as { advertisements: { sPk: Uint8Array }[] };
          r.advertisements = r.advertisements.map((a, i) => (i === 1 ? { ...a, sPk: a.sPk.map((b) => b ^ 0xff) } : a));
        }
        return req;
      },
    });
    await c.session.start();
    expect(c.clients.get('client-001')!.isClosed).to.equal(true);
    const r = await c.session.sum('model');
    expect(r.survivors).to.not.include('client-001');
  });

  it('SecAgg+ (Harary graph) sums exactly with k + 1 neighbours and a dropped client', async () => {
    const c = makeCohort({ n: 20, sums: [{ phase: 'model', spec }], session: { graph: { kind: 'harary', degree: 6 }, threshold: 4 }, drops: { 'client-010': { stage: 'collectMasked' } } });
    await c.session.start();
    const r = await c.session.sum('model');
    expect(r.survivors).to.have.length(19);
    expect(maxDiff(r.sums, c.plainSum('model', r.survivors))).to.be.below(bound(19));
  });

  it("SecAgg+ handles a cohort of 300 (more than Shamir's 255 shares)", async function () {
    this.timeout(120000);
    const c = makeCohort({
      n: 300,
      sums: [{ phase: 'model', spec: [{ name: 'x', length: 8, c: 1, R: 2 ** 20, kind: 'signed' }] }],
      session: { graph: { kind: 'harary', degree: 12 }, threshold: 7 },
      drops: { 'client-150': { stage: 'collectMasked' } },
    });
    await c.session.start();
    const r = await c.session.sum('model');
    expect(r.survivors).to.have.length(299);
    expect(maxDiff(r.sums, c.plainSum('model', r.survivors))).to.be.below(bound(299));
  });

  it('graph auto: complete for small cohorts, the Harary (k, t) sized for the declared rates for large ones', () => {
    expect(resolveGraph({ kind: 'auto' }, 10, 'honest-but-curious')).to.deep.equal({ graph: { kind: 'complete' } });
    // δ = γ = 5 % by default (shared/secagg/sizing.ts; test/secagg-sizing.test.ts checks the sizing itself).
    expect(resolveGraph({ kind: 'auto' }, 100, 'honest-but-curious')).to.deep.equal({ graph: { kind: 'harary', degree: 18 }, tableThreshold: 14 });
    expect(resolveGraph({ kind: 'auto' }, 500, 'active')).to.deep.equal({ graph: { kind: 'harary', degree: 46 }, tableThreshold: 33 });
    expect(resolveGraph({ kind: 'auto', dropout: 0.3 }, 500, 'honest-but-curious')).to.deep.equal({ graph: { kind: 'harary', degree: 58 }, tableThreshold: 20 });
    expect(() => resolveGraph({ kind: 'auto', dropout: 0.6, corrupted: 0.2 }, 300, 'active')).to.throw(/no SecAgg\+ graph of n = 300 meets/);
    expect(() => makeCohort({ n: 256, sums: [{ phase: 'model', spec }] })).to.throw(/SecAgg\+ graph/);
  });

  it('refuses configurations that can never work', () => {
    expect(() => makeCohort({ n: 2, sums: [{ phase: 'model', spec }] })).to.throw(/at least 3 clients/);
    expect(() => makeCohort({ n: 5, sums: [{ phase: 'model', spec: [{ name: 'x', length: 1, c: 1, R: 2 ** 31, kind: 'signed' }] }] })).to.throw(/R|headroom/);
  });

  it('a client leaves the round on a protocol violation (wrong own keys) and wipes its secrets', async () => {
    const c = makeCohort({ n: 4, sums: [{ phase: 'model', spec }] });
    const client = c.clients.get('client-002')!;
    const env = { runId: Uint8Array.from({ length: 16 }, (_, i) => i), round: 1, stage: 'setup' as const, phase: '', attempt: 0 };
    await client.handle('setup', { env, cohort: c.ids, threshold: 3, threatModel: 'honest-but-curious', graph: { kind: 'complete' }, plannedSums: [{ phase: 'model', spec }] });
    try {
      await client.handle('shareKeys', { env: { ...env, stage: 'shareKeys' }, advertisements: [] });
      expect.fail('should refuse');
    } catch (e) {
      expect(e).to.be.instanceOf(SecAggProtocolError);
    }
    expect(client.isClosed).to.equal(true);
  });
});
