/**
 * Property tests of the secure-aggregation protocol end to end (secure-aggregation.md §11 item 9, with the
 * dropout rules of §5, §6 and the SecAgg+ graph of §8): real client stage machines and a real coordinator in
 * memory, random cohorts, thresholds, graphs, sums and drop points.
 *
 * For each drawn round an independent model of the rules predicts, sum by sum, either the exact survivor set
 * (U3), the dropped set and the number of attempts, or the abort (stage, phase, attempt, got). The protocol
 * must then return exactly the plaintext sum over the predicted survivors (within the half-up quantisation
 * bound |U3|·c/R), or throw `SecAggAbortedError` with the predicted fields. The round stops at its first abort
 * (the coordinator sends `round:abort`; nothing else of the round runs).
 *
 * The model (derived from §5, §6, §8 and checked against the code):
 * - U1 = clients that answer `setup`; U2 = members of U1 that answer `shareKeys`; each must be ≥ t.
 * - Sum j runs over the clients that answered the previous sum's `unmask` (U2 for the first sum).
 *   U3 = the cohort minus the clients that drop at this sum's `collectMasked`.
 * - Restart (rule 3): if a dropped client's self mask was requested in an earlier sum (it was in an earlier U3),
 *   the attempt is abandoned: abort if the restart budget is spent or |U3| < t; otherwise `reshare` over U3.
 *   A client with fewer than t neighbours in U3 (itself included) refuses the reshare (SecAgg+ only), so the
 *   new cohort is U3 minus those; the sum then restarts over it (cohort < t aborts at `collectMasked`).
 * - |U3| < t, or (SecAgg+) a survivor with fewer than t neighbours in U3, aborts at `collectMasked`.
 * - U5 = U3 minus the clients that drop at this sum's `unmask`; |U5| < t aborts at `unmask`. Every survivor's
 *   self-mask seed and every dropped client's mask key is rebuilt from the shares of its neighbours in U5: fewer
 *   than t of them aborts at `unmask` (got = that count; survivors first, then dropped, in id order).
 * - Harary graph over fewer than k + 1 members of U1: the coordinator cannot build the graph. The code throws
 *   `SecAggConfigError` from `start()` (see the note at `predictStart`).
 *
 * Deterministic: fc.assert with a fixed seed. SECAGG_PROP_RUNS and SECAGG_PROP_SEED override the run count and
 * seed for longer exploratory runs.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { makeCohort, clientIds } from './helpers/secagg-cohort.js';
import { SecAggAbortedError, SecAggConfigError } from '../shared/secagg/errors.js';
import { hararyNeighbours } from '../shared/secagg/graph.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';

const PHASES = ['model', 'bva/0/p1', 'bva/0/p2'] as const;
const C = 1;
const R = 2 ** 16;

type DropStage = 'setup' | 'shareKeys' | 'collectMasked' | 'unmask';

/** A drawn drop point: the stage, and for per-sum stages the index of the sum (mod the number of sums). */
interface DrawnDrop {
  stage: DropStage;
  sum: number;
}

/** One drawn round. */
interface Scenario {
  n: number;
  t: number;
  d: number;
  numSums: number;
  /** Even degree of the Harary graph, or undefined for the complete graph. */
  k: number | undefined;
  maxRestarts: 0 | 1 | undefined;
  /** Per client (by position): where it stops answering, or null. */
  drops: (DrawnDrop | null)[];
  seed: number;
}

/** A drop point resolved to the cohort helper's form: stage and (per-sum stages) phase. */
interface Drop {
  stage: DropStage;
  phase?: string;
}

type SumOutcome = { kind: 'ok'; phase: string; survivors: string[]; dropped: string[]; attempts: number } | { kind: 'abort'; stage: string; phase: string; attempt: number; got: number };

type StartOutcome = { kind: 'ok'; u1: string[]; u2: string[] } | { kind: 'abort'; stage: string; phase: string; attempt: number; got: number; needed?: number } | { kind: 'config' };

function resolveDrops(s: Scenario): Map<string, Drop> {
  const ids = clientIds(s.n);
  const out = new Map<string, Drop>();
  s.drops.forEach((d, i) => {
    if (d === null) return;
    const perSum = d.stage === 'collectMasked' || d.stage === 'unmask';
    out.set(ids[i]!, perSum ? { stage: d.stage, phase: PHASES[d.sum % s.numSums]! } : { stage: d.stage });
  });
  return out;
}

const dropsAt = (drops: Map<string, Drop>, id: string, stage: DropStage, phase?: string): boolean => {
  const d = drops.get(id);
  return d !== undefined && d.stage === stage && (d.phase === undefined || d.phase === phase);
};

/**
 * U1 and U2, or the abort. A Harary graph of degree k needs at least k + 1 members; with |U1| ≤ k (possible
 * when t ≤ |U1| ≤ k) `buildTopology` throws a `SecAggConfigError` out of `start()` although every survivor set
 * is ≥ t. This pins the current behaviour (reported as a gap: the spec expects a typed abort, or a fallback to
 * the complete graph, which over ≤ k + 1 members is what the Harary graph is anyway).
 */
function predictStart(s: Scenario, drops: Map<string, Drop>): StartOutcome {
  const ids = clientIds(s.n);
  const u1 = ids.filter((id) => !dropsAt(drops, id, 'setup'));
  if (u1.length < s.t) return { kind: 'abort', stage: 'setup', phase: '', attempt: 0, got: u1.length };
  // A Harary graph of degree k needs more than k members: a typed abort at setup (needed k + 1).
  if (s.k !== undefined && u1.length <= s.k) return { kind: 'abort', stage: 'setup', phase: '', attempt: 0, got: u1.length, needed: s.k + 1 };
  const u2 = u1.filter((id) => !dropsAt(drops, id, 'shareKeys'));
  if (u2.length < s.t) return { kind: 'abort', stage: 'shareKeys', phase: '', attempt: 0, got: u2.length };
  return { kind: 'ok', u1, u2 };
}

/** Each member's neighbours (itself included) as the coordinator and the clients derive them from U1. */
function neighbourMap(s: Scenario, u1: readonly string[], sessionId: Uint8Array): Map<string, Set<string>> {
  const ids = [...u1].sort();
  const lists = s.k === undefined ? ids.map(() => ids.map((_, j) => j + 1)) : hararyNeighbours(ids.length, s.k, sessionId);
  return new Map(ids.map((id, i) => [id, new Set(lists[i]!.map((j) => ids[j - 1]!))]));
}

/** Tally of what the runs exercised, printed once (so a vacuous run is visible). */
const tally = new Map<string, number>();
const count = (key: string): void => void tally.set(key, (tally.get(key) ?? 0) + 1);

/** The sums' outcomes, in order, up to and including the first abort. */
function predictSums(s: Scenario, drops: Map<string, Drop>, u2: readonly string[], nbr: Map<string, Set<string>>): SumOutcome[] {
  const { t } = s;
  const maxRestarts = s.maxRestarts ?? 1;
  const within = (id: string, set: readonly string[]): number => set.filter((x) => nbr.get(id)!.has(x)).length;
  const revealed = new Set<string>();
  const out: SumOutcome[] = [];
  let alive = [...u2].sort();
  for (const phase of PHASES.slice(0, s.numSums)) {
    let attempt = 0;
    let cohort = alive;
    const abort = (stage: string, got: number): SumOutcome => ({ kind: 'abort', stage, phase, attempt, got });
    let outcome: SumOutcome | undefined;
    while (outcome === undefined) {
      if (cohort.length < t) {
        outcome = abort('collectMasked', cohort.length);
        break;
      }
      const u3 = cohort.filter((id) => !dropsAt(drops, id, 'collectMasked', phase));
      const dropped = cohort.filter((id) => !u3.includes(id));
      if (dropped.some((id) => revealed.has(id))) {
        if (attempt >= maxRestarts || u3.length < t) {
          outcome = abort('collectMasked', u3.length);
          break;
        }
        // The coordinator refuses to reshare when a member would keep fewer than t neighbours in U3.
        const short = u3.find((id) => within(id, u3) < t);
        if (short !== undefined) {
          count('abort at reshare (a member with < t neighbours in U3)');
          outcome = { kind: 'abort', stage: 'reshare', phase, attempt: attempt + 1, got: within(short, u3) };
          break;
        }
        attempt++;
        cohort = u3;
        continue;
      }
      if (u3.length < t || u3.some((id) => within(id, u3) < t)) {
        outcome = abort('collectMasked', u3.length);
        break;
      }
      // A dropped client's mask key needs ≥ t surviving neighbours: checked before anyone releases a share.
      const unrecoverable = dropped.find((id) => within(id, u3) < t);
      if (unrecoverable !== undefined) {
        count('abort before unmask (dropped client with < t surviving neighbours)');
        outcome = abort('collectMasked', within(unrecoverable, u3));
        break;
      }
      for (const id of u3) revealed.add(id);
      const u5 = u3.filter((id) => !dropsAt(drops, id, 'unmask', phase));
      if (u5.length < t) {
        outcome = abort('unmask', u5.length);
        break;
      }
      const starved = [...u3, ...dropped].find((id) => within(id, u5) < t);
      if (starved !== undefined) {
        outcome = abort('unmask', within(starved, u5));
        break;
      }
      outcome = { kind: 'ok', phase, survivors: u3, dropped, attempts: attempt + 1 };
      alive = u5;
    }
    out.push(outcome);
    if (outcome.kind === 'abort') break;
  }
  return out;
}

/** Max |a − b| over all segments. */
function maxDiff(a: Float64Array[], b: Float64Array[]): number {
  let m = 0;
  a.forEach((seg, k) => seg.forEach((v, i) => (m = Math.max(m, Math.abs(v - b[k]![i]!)))));
  return m;
}

const describeScenario = (s: Scenario, drops: Map<string, Drop>): string =>
  `n=${s.n} t=${s.t} d=${s.d} sums=${s.numSums} graph=${s.k === undefined ? 'complete' : `harary k=${s.k}`} ` +
  `maxRestarts=${String(s.maxRestarts)} drops=${JSON.stringify(Object.fromEntries(drops))}`;

async function runScenario(s: Scenario): Promise<void> {
  const drops = resolveDrops(s);
  const what = describeScenario(s, drops);
  const spec: VectorSpec = [{ name: 'x', length: s.d, c: C, R, kind: 'signed' }];
  const sums = PHASES.slice(0, s.numSums).map((phase) => ({ phase, spec }));
  const cohort = makeCohort({
    n: s.n,
    sums,
    drops: Object.fromEntries(drops),
    seed: s.seed,
    session: {
      threshold: s.t,
      ...(s.k !== undefined ? { graph: { kind: 'harary' as const, degree: s.k } } : {}),
      ...(s.maxRestarts !== undefined ? { maxRestarts: s.maxRestarts } : {}),
    },
  });
  expect(cohort.session.threshold, what).to.equal(s.t);

  const start = predictStart(s, drops);
  let startErr: unknown;
  try {
    await cohort.session.start();
  } catch (err) {
    startErr = err;
  }
  if (start.kind === 'config') {
    count('config error at start (Harary, |U1| ≤ k)');
    expect(startErr, `${what}: expected SecAggConfigError at start`).to.be.instanceOf(SecAggConfigError);
    return;
  }
  if (start.kind === 'abort') {
    count(`abort at ${start.stage}`);
    expect(startErr, `${what}: expected an abort at ${start.stage}`).to.be.instanceOf(SecAggAbortedError);
    const e = startErr as SecAggAbortedError;
    expect({ stage: e.stage, phase: e.phase, attempt: e.attempt, needed: e.needed, got: e.got }, what).to.deep.equal({
      stage: start.stage,
      phase: start.phase,
      attempt: start.attempt,
      needed: start.needed ?? s.t,
      got: start.got,
    });
    return;
  }
  expect(startErr, `${what}: start() threw ${String(startErr)}`).to.equal(undefined);
  expect([...cohort.session.eligible], what).to.deep.equal(start.u2);

  const sessionId = cohort.session.sessionId!;
  const predicted = predictSums(s, drops, start.u2, neighbourMap(s, start.u1, sessionId));
  for (const p of predicted) {
    const phase = p.phase;
    let result;
    try {
      result = await cohort.session.sum(phase);
    } catch (err) {
      if (p.kind === 'ok') throw new Error(`${what}: sum '${phase}' threw ${String(err)}; predicted survivors ${p.survivors.join(',')}`);
      expect(err, `${what}: sum '${phase}'`).to.be.instanceOf(SecAggAbortedError);
      const e = err as SecAggAbortedError;
      expect({ stage: e.stage, phase: e.phase, attempt: e.attempt, needed: e.needed, got: e.got }, `${what}: sum '${phase}'`).to.deep.equal({
        stage: p.stage,
        phase: p.phase,
        attempt: p.attempt,
        needed: s.t,
        got: p.got,
      });
      count(`abort at ${p.stage}${p.attempt > 0 ? ' after a restart' : ''}`);
      return;
    }
    if (p.kind === 'abort') {
      throw new Error(`${what}: sum '${phase}' returned (survivors ${result.survivors.join(',')}), predicted an abort at ${p.stage} (attempt ${p.attempt}, got ${p.got})`);
    }
    expect(result.survivors, `${what}: survivors of '${phase}'`).to.deep.equal(p.survivors);
    expect(result.dropped, `${what}: dropped of '${phase}'`).to.deep.equal(p.dropped);
    expect(result.attempts, `${what}: attempts of '${phase}'`).to.equal(p.attempts);
    const bound = (p.survivors.length * C) / R + 1e-9;
    expect(maxDiff(result.sums, cohort.plainSum(phase, p.survivors)), `${what}: sum '${phase}'`).to.be.at.most(bound);
    count(p.attempts > 1 ? 'sum after a restart' : p.dropped.length > 0 ? 'sum with mask-key recovery' : 'sum');
  }
  count('round completed');
}

const dropArb = (numSums: number): fc.Arbitrary<DrawnDrop | null> =>
  fc.oneof(
    { arbitrary: fc.constant(null), weight: 8 },
    { arbitrary: fc.constantFrom<DropStage>('setup', 'shareKeys').map((stage) => ({ stage, sum: 0 })), weight: 2 },
    { arbitrary: fc.record({ stage: fc.constantFrom<DropStage>('collectMasked', 'unmask'), sum: fc.integer({ min: 0, max: numSums - 1 }) }), weight: 4 },
  );

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({ n: fc.integer({ min: 3, max: 12 }), numSums: fc.integer({ min: 1, max: 3 }), harary: fc.boolean() }).chain(({ n, numSums, harary }) => {
  const tMin = Math.floor(n / 2) + 1;
  // Harary: even k with 2 ≤ k ≤ n − 1 and t ≤ k + 1 for some t ≥ tMin, i.e. k ≥ tMin − 1.
  const kEven = harary ? Array.from({ length: n }, (_, i) => i).filter((k) => k >= 2 && k % 2 === 0 && k <= n - 1 && k + 1 >= tMin) : [];
  const kArb: fc.Arbitrary<number | undefined> = kEven.length > 0 ? fc.constantFrom(...kEven) : fc.constant(undefined);
  return kArb.chain((k) =>
    fc.record({
      n: fc.constant(n),
      t: fc.integer({ min: tMin, max: k === undefined ? n : Math.min(n, k + 1) }),
      d: fc.constantFrom(1, 7, 1000),
      numSums: fc.constant(numSums),
      k: fc.constant(k),
      maxRestarts: fc.constantFrom<0 | 1 | undefined>(undefined, undefined, 0, 1),
      drops: fc.array(dropArb(numSums), { minLength: n, maxLength: n }),
      seed: fc.integer({ min: 1, max: 1_000_000 }),
    }),
  );
});

describe('secure aggregation properties (fast-check, seeded)', function () {
  this.timeout(300000);

  after(() => {
    console.log(
      `      exercised: ${[...tally.entries()]
        .sort()
        .map(([k, v]) => `${k} ×${v}`)
        .join(', ')}`,
    );
  });

  it('every sum is the exact survivor sum, or a typed abort exactly when the model predicts one', async () => {
    const numRuns = Number(process.env.SECAGG_PROP_RUNS ?? 25);
    const seed = Number(process.env.SECAGG_PROP_SEED ?? 42);
    // Two fixed examples reach paths that random draws hit only now and then, whatever the (random) graph:
    // a Harary graph over |U1| = k members, and a restart that clients starved of neighbours refuse.
    const none = (m: number): null[] => Array<null>(m).fill(null);
    const examples: [Scenario][] = [
      [{ n: 5, t: 3, d: 7, numSums: 1, k: 4, maxRestarts: undefined, drops: [{ stage: 'setup', sum: 0 }, ...none(4)], seed: 5 }],
      [{ n: 7, t: 5, d: 7, numSums: 2, k: 4, maxRestarts: undefined, drops: [...none(3), { stage: 'collectMasked', sum: 1 }, ...none(3)], seed: 6 }],
    ];
    await fc.assert(fc.asyncProperty(scenarioArb, runScenario), { seed, numRuns, examples });
    expect(tally.get('round completed') ?? 0, 'some rounds complete').to.be.greaterThan(0);
  });

  it('the model itself: no drops means every sum over the whole cohort in one attempt', async () => {
    // A fixed sanity check of the harness, complete and Harary graphs, three sums.
    await runScenario({ n: 7, t: 4, d: 7, numSums: 3, k: undefined, maxRestarts: undefined, drops: Array<null>(7).fill(null), seed: 3 });
    await runScenario({ n: 9, t: 5, d: 7, numSums: 3, k: 6, maxRestarts: undefined, drops: Array<null>(9).fill(null), seed: 4 });
  });
});
