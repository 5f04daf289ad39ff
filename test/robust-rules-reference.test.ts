/**
 * The robust rules and pre-aggregators against reference outputs on known inputs
 * (test/fixtures/robust-rules/cases.json): ByzFL's aggregators (github.com/LPD-EPFL/byzfl, the commit recorded in
 * the file) where ByzFL has the rule, independent NumPy references of the papers for FLTrust and FoolsGold. The
 * fixtures are made by test/fixtures/robust-rules/generate.py (Python, NumPy, ByzFL's source); this test needs no
 * Python. Where our resolution of an ambiguity differs from ByzFL's, the generator derives the expected output of
 * our definition (see its docstring and each rule module's notes). Tolerance: |ours − expected| ≤ 1e-5·|expected|
 * + 1e-6 per coordinate (ours is float32 out of float64 arithmetic on the same float32 inputs).
 */
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveAggregation, type PlaintextRuleConfig } from '../shared/federated/aggregation.js';
import { aggregatePlaintext, preAggregate, type RuleState } from '../server/robust-aggregators.js';
import { bucketing } from '../shared/robust-rules/bucketing.js';

interface RoundCase {
  inputs: number[][];
  expected: number[];
  ids?: string[];
  weights?: number[];
}

interface Case {
  rule: string;
  params: Record<string, unknown>;
  inputs?: number[][];
  expected?: number[] | number[][];
  rounds?: RoundCase[];
  pivot?: number;
  root?: number[];
  trust?: number[];
  order?: number[];
  source: string;
}

interface Fixtures {
  byzflCommit: string;
  cases: Case[];
}

function fixtures(): Fixtures {
  const candidates = [fileURLToPath(new URL('../../test/fixtures/robust-rules/', import.meta.url)), join(process.cwd(), 'test', 'fixtures', 'robust-rules')];
  const dir = candidates.find((d) => existsSync(join(d, 'cases.json')));
  if (dir === undefined) throw new Error(`robust-rules fixtures not found in ${candidates.join(' or ')} (make them with test/fixtures/robust-rules/generate.py)`);
  return JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Fixtures;
}

const REL = 1e-5;
const ABS = 1e-6;
const deviation = new Map<string, number>();

/** Asserts closeness coordinate by coordinate and records the largest relative deviation under `key`. */
function expectNear(key: string, actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  expect(actual.length, `${what}: length`).to.equal(expected.length);
  let worst = deviation.get(key) ?? 0;
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const err = Math.abs(actual[i]! - e);
    worst = Math.max(worst, err / Math.max(Math.abs(e), 1e-12));
    expect(err, `${what}: coordinate ${i} is ${actual[i]}, expected ${e}`).to.be.at.most(REL * Math.abs(e) + ABS);
  }
  deviation.set(key, worst);
}

const f32s = (rows: number[][]): Float32Array[] => rows.map((r) => Float32Array.from(r));

describe('robust rules against reference implementations (ByzFL; NumPy references of FLTrust and FoolsGold)', () => {
  const { cases, byzflCommit } = fixtures();

  after(() => {
    const lines = [...deviation].map(([k, v]) => `${k} ${v.toExponential(2)}`);
    console.log(`      max relative deviation per rule (ByzFL ${byzflCommit.slice(0, 10)}): ${lines.join('; ')}`);
  });

  it('covers every new rule and pre-aggregator', () => {
    const rules = new Set(cases.map((c) => (c.params['pre'] !== undefined ? `${(c.params['pre'] as { name: string }[]).map((p) => p.name).join('+')}+${c.rule}` : c.rule)));
    for (const r of ['geometric-median', 'centered-clipping', 'mda', 'monna', 'meamed', 'fltrust', 'foolsgold', 'nnm', 'bucketing', 'arc', 'nnm+meamed', 'arc+mda']) expect(rules, r).to.include(r);
  });

  cases.forEach((c, n) => {
    const label = `${n}: ${c.rule} ${JSON.stringify(c.params)} (${c.source})`;
    it(label, () => {
      if (c.rule === 'nnm' || c.rule === 'arc' || c.rule === 'bucketing') {
        const xs = f32s(c.inputs!);
        const d = xs[0]!.length;
        const got = c.rule === 'bucketing' ? bucketing(xs, d, c.params['s'] as number, c.order!) : preAggregate([{ name: c.rule, f: c.params['f'] as number }], xs);
        const want = c.expected as number[][];
        expect(got.length).to.equal(want.length);
        got.forEach((g, i) => expectNear(c.rule, g, want[i]!, `${label} vector ${i}`));
        return;
      }
      if (c.rounds !== undefined) {
        const m = c.rounds[0]!.inputs.length;
        const cfg = resolveAggregation({ rule: c.rule, ...c.params }, { secure: false, cohortSize: m }) as PlaintextRuleConfig;
        let state: RuleState | undefined;
        c.rounds.forEach((r, t) => {
          const got = aggregatePlaintext(cfg, f32s(r.inputs), { round: t + 1, ...(r.ids !== undefined ? { ids: r.ids } : {}), ...(state !== undefined ? { state } : {}) });
          expectNear(c.rule, got.update, r.expected, `${label} round ${t + 1}`);
          if (r.weights !== undefined) expectNear(`${c.rule} weights`, got.weights!, r.weights, `${label} round ${t + 1} weights`);
          state = got.state;
        });
        return;
      }
      const xs = f32s(c.inputs!);
      const cfg = resolveAggregation({ rule: c.rule, ...c.params }, { secure: false, cohortSize: xs.length }) as PlaintextRuleConfig;
      const root = c.root !== undefined ? Float32Array.from(c.root) : c.pivot !== undefined ? xs[c.pivot] : undefined;
      const got = aggregatePlaintext(cfg, xs, root !== undefined ? { root } : {});
      const key = c.params['pre'] !== undefined ? `${(c.params['pre'] as { name: string }[]).map((p) => p.name).join('+')}+${c.rule}` : c.rule;
      expectNear(key, got.update, c.expected as number[], label);
      if (c.trust !== undefined) expectNear('fltrust trust', got.weights!, c.trust, `${label} trust scores`);
    });
  });
});
