/**
 * The report's statistics for reviewers (simulations/report/paired.ts, tdist.ts, verdict.ts): Student t values
 * against closed forms, the paired t-test and Holm's correction against hand computation, and the report built
 * from a 5-seed matrix (test/fixtures/report/paired.ts) whose every comparison has a closed form: the first
 * paragraph, paired.csv, the comparison tables, a missing baseline, too few seeds and ambiguous pairs.
 */
import { expect } from 'chai';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReport } from '../simulations/report/build.js';
import { PAIRED_HEADER } from '../simulations/report/csv-files.js';
import { buildModel } from '../simulations/report/model.js';
import { loadRuns } from '../simulations/report/load.js';
import { holm, pairedTTest, resolveBaseline } from '../simulations/report/paired.js';
import { tCritical, tTwoSidedP } from '../simulations/report/tdist.js';
import { verdictParagraph } from '../simulations/report/verdict.js';
import { P, writePairedMatrix } from './fixtures/report/paired.js';

/** Two-sided p of Student t with 4 degrees of freedom, closed form: P(|T| < t) = sin θ (1 + cos²θ / 2), tan θ = t/2. */
const p4 = (t: number): number => {
  const th = Math.atan(Math.abs(t) / 2);
  return 1 - Math.sin(th) * (1 + Math.cos(th) ** 2 / 2);
};
/** Two-sided p with 3 degrees of freedom: P(|T| < t) = (2/π)(θ + sin θ cos θ), tan θ = t/√3. */
const p3 = (t: number): number => {
  const th = Math.atan(Math.abs(t) / Math.sqrt(3));
  return 1 - (2 / Math.PI) * (th + Math.sin(th) * Math.cos(th));
};
/** t(4) two-sided 95 % critical value (tables: 2.7764). */
const T4 = 2.7764451051977987;

/** A minimal CSV reader for the files of this test (no quoted fields in them). */
function readCsv(file: string): Record<string, string>[] {
  const [head, ...lines] = readFileSync(file, 'utf8').trimEnd().split('\r\n');
  const cols = head!.split(',');
  return lines.map((l) => {
    const v = l.split(',');
    expect(v.length, l).to.equal(cols.length);
    return Object.fromEntries(cols.map((c, k) => [c, v[k]!]));
  });
}

describe('report statistics: t distribution, paired t-test, Holm', () => {
  it('Student t quantiles and p-values match closed forms and tables', () => {
    expect(tCritical(4)).to.be.closeTo(T4, 1e-13);
    expect(tCritical(4).toFixed(4)).to.equal('2.7764');
    expect(tCritical(1)).to.be.closeTo(Math.tan((Math.PI / 2) * 0.95), 1e-11); // 12.7062
    expect(tCritical(2)).to.be.closeTo(Math.sqrt(2 / (1 - 0.95 ** 2) - 2), 1e-12); // 4.3027
    expect(tCritical(3).toFixed(4)).to.equal('3.1824');
    expect(tCritical(1e6)).to.be.closeTo(1.959963984540054, 1e-5);
    expect(tCritical(0)).to.be.NaN;
    expect(tTwoSidedP(T4, 4)).to.be.closeTo(0.05, 1e-14);
    for (const t of [0.5, 1, 3, 8, -8, 30]) {
      expect(tTwoSidedP(t, 4), `t ${t}`).to.be.closeTo(p4(t), 1e-14);
      expect(tTwoSidedP(t, 3), `t ${t}`).to.be.closeTo(p3(t), 1e-14);
      expect(tTwoSidedP(t, 1), `t ${t}`).to.be.closeTo(1 - (2 / Math.PI) * Math.atan(Math.abs(t)), 1e-14);
    }
    // t = 8 with 4 df: P(|T| < 8) = (4/√17)(1 + 1/34), so p = 1 − 70/(17√17); no cancellation for tiny p.
    expect(tTwoSidedP(8, 4)).to.be.closeTo(1 - 70 / (17 * Math.sqrt(17)), 1e-16);
    expect(tTwoSidedP(1e6, 4)).to.be.greaterThan(0).and.lessThan(1e-20);
    expect(tTwoSidedP(0, 4)).to.equal(1);
    expect(tTwoSidedP(Infinity, 4)).to.equal(0);
  });

  it('the paired t-test equals the hand computation: t = 8 on 5 pairs', () => {
    // d = 8 + P points: mean 8, deviations P, Σ P² = 20, s² = 5, se = √(5/5) = 1, so t = 8, df = 4.
    const r = pairedTTest(P.map((x) => (8 + x) / 100))!;
    expect(r.n).to.equal(5);
    expect(r.df).to.equal(4);
    expect(r.mean).to.be.closeTo(0.08, 1e-15);
    expect(r.sd).to.be.closeTo(Math.sqrt(5) / 100, 1e-15);
    expect(r.se).to.be.closeTo(0.01, 1e-15);
    expect(r.t).to.be.closeTo(8, 1e-12);
    expect(r.p).to.be.closeTo(1 - 70 / (17 * Math.sqrt(17)), 1e-14); // 0.0013239
    expect(r.low).to.be.closeTo(0.08 - T4 / 100, 1e-14);
    expect(r.high).to.be.closeTo(0.08 + T4 / 100, 1e-14);
  });

  it('a non-significant difference: d = [−2, 3, −1, 2, 3] points', () => {
    // Mean 1, deviations [−3, 2, −2, 1, 2], Σ = 22, s² = 5.5, se = √1.1, t = 1/√1.1 = 0.9535, p = 0.3943.
    const r = pairedTTest([-2, 3, -1, 2, 3].map((x) => x / 100))!;
    expect(r.t).to.be.closeTo(1 / Math.sqrt(1.1), 1e-12);
    expect(r.p).to.be.closeTo(p4(1 / Math.sqrt(1.1)), 1e-13);
    expect(r.p).to.be.greaterThan(0.39).and.lessThan(0.4);
    expect(r.low).to.be.lessThan(0);
    expect(r.high).to.be.greaterThan(0);
  });

  it('fewer than 2 pairs is not testable; zero spread is p = 1 or p = 0, rounding noise included', () => {
    expect(pairedTTest([])).to.equal(undefined);
    expect(pairedTTest([0.05])).to.equal(undefined);
    const none = pairedTTest([0, 0, 0])!;
    expect([none.t, none.p, none.low, none.high]).to.deep.equal([0, 1, 0, 0]);
    const same = pairedTTest([0.02, 0.02, 0.02])!;
    expect([same.t, same.p, same.low, same.high]).to.deep.equal([Infinity, 0, 0.02, 0.02]);
    // The same difference from different doubles: (0.1 + 0.2) − 0.1 and 0.3 − 0.1 differ in the last bit.
    const diffs = [0.1 + 0.2 - 0.1, 0.3 - 0.1, 0.2];
    expect(new Set(diffs).size).to.be.greaterThan(1);
    const r = pairedTTest(diffs)!;
    expect(r.sd).to.equal(0);
    expect(r.t).to.equal(Infinity);
    expect(r.p).to.equal(0);
  });

  it('Holm adjusts step-down, keeps input order, caps at 1 and is monotone', () => {
    // Sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06.
    const q = holm([0.01, 0.04, 0.03, 0.005]);
    [0.03, 0.06, 0.06, 0.02].forEach((x, k) => expect(q[k]).to.be.closeTo(x, 1e-15));
    // 0.04 and 0.03 are below 0.05 alone, not after the correction.
    expect(q.map((x) => x < 0.05)).to.deep.equal([true, false, false, true]);
    expect(holm([0.5, 0.6])).to.deep.equal([1, 1]);
    expect(holm([0.01, 0.01])).to.deep.equal([0.02, 0.02]);
    expect(holm([])).to.deep.equal([]);
  });

  it('baselines resolve by profile: X@reference uses the reference baseline when present, else the plain one', () => {
    const ds = ['fedavg-ds', 'fed-bva', 'fed-bva@reference', 'fedavg@reference'];
    expect(resolveBaseline('fedavg@reference', 'fed-bva', ds)).to.equal('fed-bva@reference');
    expect(resolveBaseline('fedavg@reference', 'fedavg-ds', ds)).to.equal('fedavg-ds');
    expect(resolveBaseline('fed-bva@reference', 'fed-bva', ds)).to.equal('fed-bva@reference');
    expect(resolveBaseline('fedavg', 'fed-bva', ['fed-bva@reference', 'fedavg'])).to.equal(undefined);
    expect(resolveBaseline('fedavg', 'fedavg-ds', ds)).to.equal('fedavg-ds');
  });
});

describe('report: paired comparisons on a 5-seed matrix', function () {
  let root: string;
  let out: string;
  let md: string;
  let html: string;
  let rows: Record<string, string>[];
  const row = (table: string, defense: string, threat: string, metric: string): Record<string, string> => {
    const r = rows.find((x) => x['table'] === table && x['defense'] === defense && x['threat'] === threat && x['metric'] === `final.accuracy.${metric}`);
    expect(r, `${table} ${defense} ${threat} ${metric}`).to.not.equal(undefined);
    return r!;
  };

  before(async function () {
    root = mkdtempSync(path.join(os.tmpdir(), 'rfl-paired-'));
    writePairedMatrix(path.join(root, 'matrix'));
    out = path.join(root, 'out');
    await buildReport([path.join(root, 'matrix')], out);
    md = readFileSync(path.join(out, 'report.md'), 'utf8');
    html = readFileSync(path.join(out, 'report.html'), 'utf8');
    rows = readCsv(path.join(out, 'paired.csv'));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('paired.csv: every comparison, each baseline resolved by profile, the Holm family per table', () => {
    expect(Object.keys(rows[0]!)).to.deep.equal(PAIRED_HEADER);
    // fedavg-ds table: fed-bva, fed-bva@reference (no fedavg-ds@reference: the plain one), fedavg@reference,
    // each at 2 scenarios × 3 metrics. fed-bva table: fedavg-ds, and fedavg@reference against fed-bva@reference;
    // fed-bva@reference would be compared with itself, so it is not.
    const key = (r: Record<string, string>): string => `${r['table']}: ${r['defense']} vs ${r['baseline']}`;
    const counts = new Map<string, number>();
    for (const r of rows) counts.set(key(r), (counts.get(key(r)) ?? 0) + 1);
    expect([...counts]).to.deep.equal([
      ['fedavg-ds: fed-bva vs fedavg-ds', 6],
      ['fedavg-ds: fed-bva@reference vs fedavg-ds', 6],
      ['fedavg-ds: fedavg@reference vs fedavg-ds', 6],
      ['fed-bva: fedavg-ds vs fed-bva', 6],
      ['fed-bva: fedavg@reference vs fed-bva@reference', 6],
      // The profile's effect: each @reference defense against its own default (fedavg has no default twin here).
      ['the same method in the default profile: fed-bva@reference vs fed-bva', 6],
    ]);
    // fedavg@reference ran one seed at sign-flip: 3 comparisons per table are not testable, outside the family.
    expect(rows.filter((r) => r['status'] === 'not testable').map((r) => `${r['table']} ${r['threat']} n=${r['n']}`)).to.deep.equal([
      ...Array<string>(3).fill('fedavg-ds sign-flip n=1'),
      ...Array<string>(3).fill('fed-bva sign-flip n=1'),
    ]);
    expect(new Set(rows.filter((r) => r['table'] === 'fedavg-ds' && r['status'] === 'tested').map((r) => r['holmFamily']))).to.deep.equal(new Set(['15']));
    expect(new Set(rows.filter((r) => r['table'] === 'fed-bva' && r['status'] === 'tested').map((r) => r['holmFamily']))).to.deep.equal(new Set(['9']));
    const nt = row('fedavg-ds', 'fedavg@reference', 'sign-flip', 'clean');
    expect([nt['p'], nt['pHolm'], nt['significant'], nt['ci95Low'], nt['seeds']]).to.deep.equal(['', '', '', '', '1']);
  });

  it('t = 8 on 5 paired seeds: mean, interval, p and Holm p by hand, significant', () => {
    const r = row('fedavg-ds', 'fed-bva', 'none', 'pgd-20');
    const pS = 1 - 70 / (17 * Math.sqrt(17));
    expect(r['n']).to.equal('5');
    expect(r['df']).to.equal('4');
    expect(r['seeds']).to.equal('1;2;3;4;5');
    expect(r['cells']).to.equal(['1', '2', '3', '4', '5'].map((s) => `fed-bva__none__f0__s${s}`).join(';'));
    expect(Number(r['meanDiff'])).to.be.closeTo(0.08, 1e-14);
    expect(Number(r['sdDiff'])).to.be.closeTo(Math.sqrt(5) / 100, 1e-14);
    expect(Number(r['t'])).to.be.closeTo(8, 1e-10);
    expect(Number(r['p'])).to.be.closeTo(pS, 1e-12);
    expect(Number(r['ci95Low'])).to.be.closeTo(0.08 - T4 / 100, 1e-13);
    expect(Number(r['ci95High'])).to.be.closeTo(0.08 + T4 / 100, 1e-13);
    // Six comparisons share the smallest p; Holm multiplies it by m = 15: 0.0199 < 0.05.
    expect(Number(r['pHolm'])).to.be.closeTo(15 * pS, 1e-12);
    expect(r['significant']).to.equal('true');
    // The per-seed differences are 8 + P, although the baseline's seeds differ by up to 11 points.
    r['diffs']!.split(';').forEach((d, k) => expect(Number(d)).to.be.closeTo((8 + P[k]!) / 100, 1e-14));
    // The same comparison from the other table: the sign flips, Holm uses that table's m = 9.
    const m = row('fed-bva', 'fedavg-ds', 'none', 'pgd-20');
    expect(Number(m['t'])).to.be.closeTo(-8, 1e-10);
    expect(Number(m['pHolm'])).to.be.closeTo(9 * pS, 1e-12);
  });

  it("Holm's step: p = 0.040 (t = 3) is below 0.05 alone but not significant after the correction", () => {
    const pS = 1 - 70 / (17 * Math.sqrt(17));
    const r = row('fedavg-ds', 'fed-bva', 'none', 'pgd-strong');
    expect(Number(r['t'])).to.be.closeTo(3, 1e-10);
    expect(Number(r['p'])).to.be.closeTo(p4(3), 1e-12); // 0.03994
    expect(Number(r['p'])).to.be.lessThan(0.05);
    // Family of 15 sorted: 6 × pS, then fedavg@reference's PGD-20 (t = 6.5/√(35/12), 3 df, p = 0.032), then the two
    // t = 3 comparisons at ranks 8 and 9: max(15·pS, 9·p₇, 8·p(3)) = 8·p(3) = 0.32.
    const t7 = 6.5 / Math.sqrt(35 / 12);
    const r7 = row('fedavg-ds', 'fedavg@reference', 'none', 'pgd-20');
    expect(Number(r7['t'])).to.be.closeTo(t7, 1e-10);
    expect(Number(r7['p'])).to.be.closeTo(p3(t7), 1e-12);
    expect(Number(r7['pHolm'])).to.be.closeTo(Math.max(15 * pS, 9 * p3(t7)), 1e-12);
    expect(r7['significant']).to.equal('false');
    expect(Number(r['pHolm'])).to.be.closeTo(8 * p4(3), 1e-12);
    expect(r['significant']).to.equal('false');
    // t = 0 exactly (a mean difference of 0): p = 1, not significant.
    const z = row('fedavg-ds', 'fed-bva', 'none', 'clean');
    expect(Number(z['t'])).to.be.closeTo(0, 1e-10);
    expect(Number(z['p'])).to.be.closeTo(1, 1e-10);
    expect(z['significant']).to.equal('false');
  });

  it('4 pairs where a seed is missing on one side (3 df), and a reference defense against its reference baseline', () => {
    // fedavg@reference − fed-bva@reference = P on seeds 1–4: [−3, −1, 0, 1], mean −0.75, Σ dev² = 8.75.
    const r = row('fed-bva', 'fedavg@reference', 'none', 'clean');
    expect(r['baseline']).to.equal('fed-bva@reference');
    expect(r['n']).to.equal('4');
    expect(r['seeds']).to.equal('1;2;3;4');
    const se = Math.sqrt(8.75 / 3 / 4);
    expect(Number(r['meanDiff'])).to.be.closeTo(-0.0075, 1e-14);
    expect(Number(r['t'])).to.be.closeTo(-0.75 / se, 1e-10);
    expect(Number(r['p'])).to.be.closeTo(p3(0.75 / se), 1e-12);
    expect(Number(r['ci95High']) - Number(r['ci95Low'])).to.be.closeTo((2 * tCritical(3) * se) / 100, 1e-13);
  });

  it('the first paragraph states exactly the significant differences, once each', () => {
    const fwd = '[5.22, 10.78], n = 5';
    const expected =
      "Significant at 5 % (paired t-test over seeds, Holm–Bonferroni over each baseline's table of §4): " +
      `fed-bva > fedavg-ds on PGD-20 (threat none, f = 0 %) by +8.00 points ${fwd}; ` +
      'fed-bva < fedavg-ds on clean (threat sign-flip, f = 20 %) by -8.00 points [-10.78, -5.22], n = 5; ' +
      `fed-bva > fedavg-ds on PGD-20 (threat sign-flip, f = 20 %) by +8.00 points ${fwd}; ` +
      `fed-bva@reference > fedavg-ds on PGD-20 (threat none, f = 0 %) by +8.00 points ${fwd}; ` +
      'fed-bva@reference < fedavg-ds on clean (threat sign-flip, f = 20 %) by -8.00 points [-10.78, -5.22], n = 5; ' +
      `fed-bva@reference > fedavg-ds on PGD-20 (threat sign-flip, f = 20 %) by +8.00 points ${fwd}; ` +
      'no other difference is significant (30 comparisons tested). 6 comparisons were not testable (fewer than 2 seeds finished by both defenses).';
    const model = buildModel(loadRuns([path.join(root, 'matrix')]));
    expect(verdictParagraph(model.paired, '§4')).to.equal(expected);
    // First in both renderings: right after the title (and the HTML's contents list).
    expect(md.split('\n\n')[1]).to.equal(expected.replace(/[\\*_[\]<>|]/g, (c) => `\\${c}`));
    expect(html).to.include(`</nav>\n<p>${expected.replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;')}</p>`);
  });

  it('the comparison table of §4 and the 95 % intervals of the main table', () => {
    expect(md).to.include('### Against fedavg-ds');
    // fed-bva's table names the baseline compared with: fed-bva@reference for the reference-profile defense.
    expect(md).to.include('| defense | against | threat | f | n (seed pairs) | clean: Δ');
    expect(md).to.include('| fedavg-ds | fed-bva | none | 0 % | 5 | 0.00 \\[-2.78, 2.78\\] | 1.0000 / 1.0000 | -8.00 \\[-10.78, -5.22\\] | 0.0013 / 0.0119 \\* |');
    expect(md).to.include('| fedavg@reference | fed-bva@reference | none | 0 % | 4 | ');
    expect(md).to.include(
      '| defense | threat | f | n (seed pairs) | clean: Δ \\[95 % CI over seed pairs\\] | clean: p / Holm p | PGD-20: Δ \\[95 % CI over seed pairs\\] | PGD-20: p / Holm p | strong PGD-40 ×5: Δ \\[95 % CI over seed pairs\\] | strong PGD-40 ×5: p / Holm p |',
    );
    expect(md).to.include('| fed-bva | none | 0 % | 5 | 0.00 \\[-2.78, 2.78\\] | 1.0000 / 1.0000 | +8.00 \\[5.22, 10.78\\] | 0.0013 / 0.0199 \\* | +3.00 \\[0.22, 5.78\\] | 0.0399 / 0.3195 |');
    expect(md).to.include('| fedavg@reference | sign-flip | 20 % | 1 | not testable (n 1) | — |');
    // fedavg-ds's clean accuracy at none: 80 + NOISE, mean 80.4, Σ dev² = 89.2, s = √22.3, ± t(4)·s/√5 = 5.86.
    const half = (T4 * Math.sqrt(22.3)) / Math.sqrt(5);
    expect(half.toFixed(2)).to.equal('5.86');
    expect(md).to.include(`| fedavg-ds | none | 0 % | 5 | 80.40 ± ${half.toFixed(2)} | 30.40 ± ${half.toFixed(2)} |`);
    const s = readCsv(path.join(out, 'summary.csv')).find((r) => r['group'] === 'fedavg-ds / none / f=0' && r['metric'] === 'final.accuracy.clean')!;
    expect(Number(s['ci95HalfWidth'])).to.be.closeTo(half / 100, 1e-14);
    expect(Number(s['ci95Low'])).to.be.closeTo(0.804 - half / 100, 1e-14);
    // One seed: no interval, no ± (fedavg@reference at sign-flip, seed 1: 80 + 4 − 10 − 8 − 3 − 3 = 60).
    expect(md).to.include('| fedavg@reference | sign-flip | 20 % | 1 | 60.00 | ');
  });

  it('a missing baseline skips its table; with neither, the report says so', async () => {
    const noDs = path.join(root, 'no-ds');
    writePairedMatrix(noDs, ['fed-bva', 'fedavg@reference']);
    const a = await buildReport([noDs], path.join(root, 'out-no-ds'));
    expect(a.model.paired.map((t) => t.baseline)).to.deep.equal(['fed-bva']);
    const ra = readCsv(path.join(root, 'out-no-ds', 'paired.csv'));
    expect(new Set(ra.map((r) => `${r['table']} ${r['defense']} ${r['baseline']}`))).to.deep.equal(new Set(['fed-bva fedavg@reference fed-bva']));
    const mdA = readFileSync(path.join(root, 'out-no-ds', 'report.md'), 'utf8');
    expect(mdA).to.not.include('### Against fedavg-ds');
    expect(mdA.split('\n\n')[1]).to.match(/fedavg-ds is not in the matrix: no comparison against it\.$/);

    const neither = path.join(root, 'neither');
    writePairedMatrix(neither, ['fedavg@reference']);
    const b = await buildReport([neither], path.join(root, 'out-neither'));
    expect(b.model.paired).to.deep.equal([]);
    expect(readFileSync(path.join(root, 'out-neither', 'paired.csv'), 'utf8')).to.equal(`${PAIRED_HEADER.join(',')}\r\n`);
    const mdB = readFileSync(path.join(root, 'out-neither', 'report.md'), 'utf8');
    expect(mdB.split('\n\n')[1]).to.equal(
      'No paired comparison: the matrix has neither fedavg-ds nor fed-bva, the baselines every defense is compared with, so no difference between defenses is tested for significance.',
    );
    expect(mdB).to.include('Neither baseline (fedavg-ds, fed-bva) is in the matrix: no paired comparison.');
  });

  it('one finished seed per group: too few seeds, nothing called significant', async () => {
    const one = path.join(root, 'one-seed');
    writePairedMatrix(one);
    // Seeds 2–5 interrupted: their results.json never written.
    for (const c of loadRuns([one]).cells.filter((x) => x.seed > 1 && x.results !== undefined)) rmSync(path.join(c.dir!, 'results.json'));
    const built = await buildReport([one], path.join(root, 'out-one'));
    expect(built.model.paired.flatMap((t) => t.comparisons).every((c) => c.test === undefined && c.pairs.length <= 1)).to.equal(true);
    const first = readFileSync(path.join(root, 'out-one', 'report.md'), 'utf8').split('\n\n')[1];
    expect(first).to.equal(
      'Too few seeds for a significance test: no comparison against fedavg-ds or fed-bva or the same method in the default profile has 2 seeds that both defenses finished (36 comparisons, §4), so no difference is called significant.',
    );
  });

  it('a seed with two finished cells on one side (two copies read together) is ambiguous, not paired', () => {
    const copy = path.join(root, 'copy');
    cpSync(path.join(root, 'matrix'), copy, { recursive: true });
    const model = buildModel(loadRuns([path.join(root, 'matrix'), copy]));
    const c = model.paired[0]!.comparisons.find((x) => x.defense === 'fed-bva' && x.threat === 'none' && x.metric === 'final.accuracy.pgd-20')!;
    expect(c.pairs).to.deep.equal([]);
    expect(c.ambiguousSeeds).to.deep.equal([1, 2, 3, 4, 5]);
    expect(c.test).to.equal(undefined);
  });
});
