/**
 * The robustness report (simulations/report/) on a synthetic matrix written to a temp directory
 * (test/fixtures/report/synthetic.ts): every chart and table is there, the HTML is self-contained, every number
 * in the CSV files equals its source exactly, worst-case entries and means over seeds match hand computation,
 * and unfinished cells are listed as missing instead of breaking the build.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildReport, type BuiltReport } from '../simulations/report/build.js';
import { parseCli } from '../simulations/report/cli.js';
import { csvField, toCsv } from '../simulations/report/csv.js';
import { valueAt } from '../simulations/report/csv-files.js';
import { SECTIONS } from '../simulations/report/document.js';
import { expectedCells } from '../simulations/report/expected.js';
import { escapeHtml } from '../simulations/report/html.js';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { cleanOf, INTERRUPTED, NOT_STARTED, writeSyntheticMatrix, type SyntheticCell } from './fixtures/report/synthetic.js';

/** An RFC 4180 parser, written independently of the writer under test. */
function parseCsv(text: string): Record<string, string>[] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) rows.push([...row, field]);
  const [header, ...body] = rows;
  return body.map((r) => {
    expect(r.length, `row ${r.join(',')}`).to.equal(header!.length);
    return Object.fromEntries(header!.map((h, k) => [h, r[k]!]));
  });
}

const mean2 = (a: number, b: number): number => (0 + a + b) / 2;

describe('robustness report', function () {
  let root: string;
  let out: string;
  let cells: SyntheticCell[];
  let built: BuiltReport;
  let md: string;
  let html: string;
  const csv = (name: string): Record<string, string>[] => parseCsv(readFileSync(path.join(out, name), 'utf8'));

  before(async function () {
    root = mkdtempSync(path.join(os.tmpdir(), 'rfl-report-'));
    cells = writeSyntheticMatrix(path.join(root, 'matrix'));
    out = path.join(root, 'out');
    built = await buildReport([path.join(root, 'matrix')], out);
    md = readFileSync(path.join(out, 'report.md'), 'utf8');
    html = readFileSync(path.join(out, 'report.html'), 'utf8');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes the Markdown, the HTML, the chart files and every CSV file', () => {
    for (const f of ['report.md', 'report.html', 'cells.csv', 'rounds.csv', 'summary.csv', 'curves.csv', 'worst-case.csv', 'paired.csv', 'cost.csv'])
      expect(existsSync(path.join(out, f)), f).to.equal(true);
    for (const c of ['rounds', 'attacks', 'corruption', 'heatmap', 'time', 'bytes']) expect(existsSync(path.join(out, 'charts', `${c}.svg`)), c).to.equal(true);
    expect(built.files).to.include(path.join(out, 'report.html'));
  });

  it('the HTML holds one inline SVG per chart and every section, with no script and no external reference', () => {
    expect(html.match(/<svg\b/g)?.length).to.equal(6);
    for (const id of ['rounds', 'attacks', 'corruption', 'heatmap', 'time', 'bytes']) expect(html).to.include(`<figure id="chart-${id}">`);
    for (const title of Object.values(SECTIONS)) expect(html, title).to.include(`>${escapeHtml(title)}</h2>`);
    expect(html).to.not.match(/<script/i);
    // Only in-page references: url(#id) to a gradient or clip path of the same chart, ids unique on the page.
    expect(html).to.not.match(/<link\b|<img\b|<iframe\b|<object\b|<embed\b|\ssrc=|@import|url\((?!#)/i);
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!);
    expect(new Set(ids).size, 'ids are unique').to.equal(ids.length);
    for (const [, ref] of html.matchAll(/url\(#([^)]+)\)/g)) expect(ids, ref).to.include(ref);
    const rest = html.replace(/\sxmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, '');
    expect(rest).to.not.match(/https?:\/\//);
    expect(rest).to.not.match(/<svg\b[^>]*\sxmlns=/, 'every xmlns seen was the SVG one');
  });

  it('the Markdown has every section, the tables and links to the chart files', () => {
    for (const title of Object.values(SECTIONS)) expect(md, title).to.include(`## ${title.replace(/[\\*_[\]<>|]/g, (c) => `\\${c}`)}`);
    // Corruption levels in percent, and every ± column names what it spreads over.
    const ci = ' (± 95 % CI over seeds)';
    expect(md).to.include(`| defense | f = 0 %${ci} | f = 10 %${ci} | f = 30 %${ci} |`);
    expect(md.split(`| defense | f = 0 %${ci} | f = 10 %${ci} | f = 30 %${ci} |`).length - 1, 'worst clean and worst robust').to.equal(2);
    // No backdoor ASR at f = 0 %: a column without any ± does not name a spread.
    expect(md).to.include(`| defense | f = 0 % | f = 10 %${ci} | f = 30 %${ci} |`);
    expect(md).to.include(`| defense | threat | f | n (seeds) | clean${ci} | FGSM${ci} | PGD-10${ci} | PGD-20${ci} | strong PGD-40 ×5${ci} | robust${ci} | ASR${ci} | cells |`);
    expect(md).to.include('| strong PGD-40 ×5 | `pgd-strong` | pgd | 0.3 | 0.01875 | 40 | 5 | yes | — | 500 | final |');
    for (const c of ['rounds', 'attacks', 'corruption', 'heatmap', 'time', 'bytes']) expect(md).to.include(`(charts/${c}.svg)`);
    // The protocol comes from the files, software versions included.
    expect(md).to.match(/\| robust-fl \(package\.json version\) \| 0\.1\.0 \|/);
    expect(md).to.match(/\| CPU \| Test CPU \|/);
    expect(md).to.match(/\| learning rate \| 0\.01 \|/);
    expect(md).to.include('Seeds: 1, 2.');
  });

  it('cells.csv: every number equals its results.json value exactly', () => {
    const rows = csv('cells.csv');
    expect(rows).to.have.length(cells.length);
    let compared = 0;
    for (const cell of cells.filter((c) => c.results !== undefined)) {
      const row = rows.find((r) => r['id'] === cell.id)!;
      expect(row['status']).to.equal('finished');
      for (const [col, text] of Object.entries(row)) {
        const source = valueAt(cell.results, col);
        if (typeof source === 'number') {
          expect(Number(text), `${cell.id} ${col}`).to.equal(source);
          compared++;
        } else if (typeof source === 'string') expect(text).to.equal(source);
      }
      // Every final accuracy of the file has its column.
      for (const [a, v] of Object.entries(cell.results!.final.accuracy)) expect(Number(row[`final.accuracy.${a}`])).to.equal(v);
      const robust = Math.min(
        ...Object.entries(cell.results!.final.accuracy)
          .filter(([a]) => a !== 'clean')
          .map(([, v]) => v),
      );
      expect(Number(row['derived.robustAccuracy'])).to.equal(robust);
    }
    expect(compared).to.be.greaterThan(18 * 20);
  });

  it('rounds.csv: every parseable rounds.jsonl line, numbers exact', () => {
    const rows = csv('rounds.csv');
    let lines = 0;
    for (const cell of cells.filter((c) => existsSync(path.join(c.dir, 'rounds.jsonl')))) {
      for (const line of readFileSync(path.join(cell.dir, 'rounds.jsonl'), 'utf8').split('\n')) {
        let rec: Record<string, unknown>;
        try {
          rec = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        lines++;
        const row = rows.find((r) => r['id'] === cell.id && r['round'] === String(rec['round']))!;
        for (const col of ['trainLoss', 'ms.round', 'ms.train', 'ms.bva', 'ms.secagg', 'ms.other', 'ms.eval', 'ms.coordinator.keyAgreement', 'bytesSent', 'eval.clean', 'eval.asr']) {
          const v = valueAt(rec, col);
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the columns hold numbers and strings, as the CSV writes them
          expect(row[col], `${cell.id} r${String(rec['round'])} ${col}`).to.equal(v === undefined ? '' : String(v));
          if (typeof v === 'number') expect(Number(row[col])).to.equal(v);
        }
      }
    }
    expect(rows).to.have.length(lines);
  });

  it('means, std and 95 % confidence intervals over seeds match hand computation', () => {
    const rows = csv('summary.csv');
    const at = (group: string, metric: string): Record<string, string> => rows.find((r) => r['group'] === group && r['metric'] === metric)!;
    const a = cleanOf('fed-bva', 'none', 0, 1);
    const b = cleanOf('fed-bva', 'none', 0, 2);
    const r = at('fed-bva / none / f=0', 'final.accuracy.clean');
    const m = mean2(a, b);
    expect(Number(r['mean'])).to.equal(m);
    expect(Number(r['std'])).to.be.closeTo(Math.sqrt((a - m) ** 2 + (b - m) ** 2), 1e-15);
    expect(Number(r['std'])).to.be.closeTo(Math.abs(a - b) / Math.SQRT2, 1e-15);
    expect(r['n']).to.equal('2');
    expect(r['cells']).to.equal('fed-bva__none__f0__s1;fed-bva__none__f0__s2');
    // 95 % interval with 1 degree of freedom: t = tan(π/2 · 0.95) = 12.7062…, half-width t·std/√2 = t·|a − b|/2.
    const t1 = Math.tan((Math.PI / 2) * 0.95);
    const half = (t1 * Math.abs(a - b)) / 2;
    expect(Number(r['ci95HalfWidth'])).to.be.closeTo(half, 1e-12);
    expect(Number(r['ci95Low'])).to.be.closeTo(m - half, 1e-12);
    expect(Number(r['ci95High'])).to.be.closeTo(m + half, 1e-12);
    // A group with one finished seed has no spread, and names its missing cell.
    const one = at('fedavg / sign-flip / f=0.1', 'final.accuracy.clean');
    expect(one['n']).to.equal('1');
    expect(one['std']).to.equal('');
    expect(Number(one['mean'])).to.equal(cleanOf('fedavg', 'sign-flip', 0.1, 1));
    expect(one['missingCells']).to.equal(NOT_STARTED);
    expect([one['ci95Low'], one['ci95High'], one['ci95HalfWidth']]).to.deep.equal(['', '', '']);
    // Curves: the mean over seeds at each evaluated round.
    const curve = csv('curves.csv').find((x) => x['group'] === 'fedavg / none / f=0' && x['round'] === '2' && x['metric'] === 'eval.clean')!;
    expect(Number(curve['mean'])).to.equal(mean2(cleanOf('fedavg', 'none', 0, 1) - 1 / 30, cleanOf('fedavg', 'none', 0, 2) - 1 / 30));
    // The Markdown table shows the same values, rounded: mean ± the interval's half-width; a single seed, no ±.
    expect(md).to.include(`| fed-bva | none | 0 % | 2 | ${(100 * m).toFixed(2)} ± ${(100 * Number(r['ci95HalfWidth'])).toFixed(2)} |`);
    expect(md).to.include(`| fedavg | sign-flip | 10 % | 1 | ${(100 * cleanOf('fedavg', 'sign-flip', 0.1, 1)).toFixed(2)} |`);
  });

  it('worst-case entries equal the hand-computed minimum over threats of the mean over seeds', () => {
    const rows = csv('worst-case.csv');
    const at = (table: string, defense: string, f: number): Record<string, string> => rows.find((r) => r['table'] === table && r['defense'] === defense && r['corruption'] === String(f))!;
    // fedavg at f = 0.3: sign-flip (1/3 per unit of f) hurts more than backdoor (1/7).
    const sign = mean2(cleanOf('fedavg', 'sign-flip', 0.3, 1), cleanOf('fedavg', 'sign-flip', 0.3, 2));
    const back = mean2(cleanOf('fedavg', 'backdoor', 0.3, 1), cleanOf('fedavg', 'backdoor', 0.3, 2));
    const w = at('worst-clean', 'fedavg', 0.3);
    expect(Number(w['mean'])).to.equal(Math.min(sign, back));
    expect(w['threat']).to.equal('sign-flip');
    expect(w['threatsConsidered']).to.equal('sign-flip;backdoor');
    expect(w['cells']).to.equal('fedavg__sign-flip__f30__s1;fedavg__sign-flip__f30__s2');
    // f = 0 holds only the uncorrupted runs.
    expect(Number(at('worst-clean', 'fed-bva', 0)['mean'])).to.equal(mean2(cleanOf('fed-bva', 'none', 0, 1), cleanOf('fed-bva', 'none', 0, 2)));
    // Robust accuracy: per cell the minimum over attacks, then mean over seeds, then minimum over threats.
    const robust = (threat: string, seed: number): number => {
      const acc = cells.find((c) => c.defense === 'fed-bva' && c.threat === threat && c.corruption === 0.1 && c.seed === seed)!.results!.final.accuracy;
      return Math.min(acc['fgsm']!, acc['pgd-10']!, acc['pgd-20']!, acc['pgd-strong']!);
    };
    expect(Number(at('worst-robust', 'fed-bva', 0.1)['mean'])).to.equal(Math.min(mean2(robust('sign-flip', 1), robust('sign-flip', 2)), mean2(robust('backdoor', 1), robust('backdoor', 2))));
    // Maximum ASR: only backdoor measures it; fed-bva at 0.3 has one finished seed.
    const asr = at('max-asr', 'fed-bva', 0.3);
    expect(Number(asr['mean'])).to.equal(0.5 + 0.3 / 3 + 1 / 50);
    expect(asr['n']).to.equal('1');
    expect(rows.filter((r) => r['table'] === 'max-asr' && r['corruption'] === '0')).to.have.length(0);
    // The Markdown table shows the entry with its threat and the gap in seeds.
    expect(md).to.include(`| fedavg | ${(100 * mean2(cleanOf('fedavg', 'none', 0, 1), cleanOf('fedavg', 'none', 0, 2))).toFixed(2)} ± `);
    expect(md).to.include(`${(100 * cleanOf('fedavg', 'sign-flip', 0.1, 1)).toFixed(2)} (sign-flip, n 1)`);
  });

  it('opens with the verdict of the paired comparisons: none significant with 2 seeds, fedavg-ds absent', () => {
    const first = md.split('\n\n')[1]!;
    expect(first).to.equal(
      "No difference is significant at 5 % (paired t-test over seeds, Holm–Bonferroni over each baseline's table of §4): 9 comparisons against fed-bva tested on clean, PGD-20 and strong PGD-40 ×5 accuracy. " +
        '6 comparisons were not testable (fewer than 2 seeds finished by both defenses). fedavg-ds is not in the matrix: no comparison against it.',
    );
    expect(html).to.match(/<\/nav>\n<p>No difference is significant at 5 %/);
    // fedavg-ds is absent: only fed-bva's table, whose rows all compare fedavg with fed-bva.
    const rows = csv('paired.csv');
    expect(rows).to.have.length(15);
    expect(new Set(rows.map((r) => `${r['table']} ${r['baseline']} ${r['defense']}`))).to.deep.equal(new Set(['fed-bva fed-bva fedavg']));
    expect(md).to.not.include('### Against fedavg-ds');
  });

  it('lists the interrupted and the never-started cell as missing and keeps them out of every mean', () => {
    const missing = md.slice(md.indexOf(`## ${SECTIONS.missing}`), md.indexOf(`## ${SECTIONS.files}`));
    expect(missing).to.include(`\`${INTERRUPTED}\``);
    expect(missing).to.include('unfinished: no results.json (2 of 3 rounds recorded)');
    expect(missing).to.include(`\`${NOT_STARTED}\``);
    expect(missing).to.include('not started');
    expect(html).to.include(`<code>${INTERRUPTED}</code>`);
    const rows = csv('cells.csv');
    expect(rows.find((r) => r['id'] === INTERRUPTED)!['status']).to.equal('missing');
    expect(rows.find((r) => r['id'] === NOT_STARTED)!['status']).to.equal('missing');
    expect(rows.find((r) => r['id'] === INTERRUPTED)!['coordsFrom']).to.equal('matrix.json');
    expect(csv('summary.csv').filter((r) => r['cells'].split(';').includes(INTERRUPTED))).to.have.length(0);
    // Its recorded rounds are kept as data, and the torn last line is a warning, not a failure.
    expect(csv('rounds.csv').filter((r) => r['id'] === INTERRUPTED)).to.have.length(2);
    expect(built.warnings.some((w) => w.includes(INTERRUPTED) && w.includes('unparseable'))).to.equal(true);
  });

  it('a run directory without cell.json gets coordinates from its scenario, alone or in a folder of runs', async () => {
    const runs = path.join(root, 'runs');
    const src = cells.find((c) => c.id === 'fedavg__sign-flip__f30__s2')!;
    cpSync(src.dir, path.join(runs, 'run-a'), { recursive: true });
    rmSync(path.join(runs, 'run-a', 'cell.json'));
    for (const given of [path.join(runs, 'run-a'), runs]) {
      const o = path.join(root, `out-${path.basename(given)}`);
      const r = await buildReport([given], o);
      expect(r.model.loaded.cells).to.have.length(1);
      const row = parseCsv(readFileSync(path.join(o, 'cells.csv'), 'utf8'))[0]!;
      expect(row).to.include({ id: 'run-a', defense: 'fedavg · mean · secure', threat: 'sign-flip', behavior: 'sign-flip', corruption: '0.3', seed: '2', coordsFrom: 'scenario.json' });
      expect(Number(row['final.accuracy.clean'])).to.equal(src.results!.final.accuracy['clean']);
    }
    let err: unknown;
    await buildReport([path.join(root, 'nope')], path.join(root, 'o')).catch((e: unknown) => (err = e));
    expect(String(err)).to.match(/no such directory/);
  });

  it('expected matrix cells match expandMatrix of the benchmark runner', () => {
    const config = parseMatrix({
      name: 'contract',
      base: { dataset: 'mnist-embedded', numClients: 10, fraction: 0.5, rounds: 2 },
      defenses: [
        { name: 'fedavg', method: 'fedavg' },
        { name: 'fed-bva', method: 'fed-bva' },
      ],
      threats: [{ name: 'none' }, { name: 'flip', behavior: { kind: 'sign-flip' } }, { name: 'noise', behavior: { kind: 'gaussian', sigma: 2 } }],
      corruption: [0, 0.1, 0.125, 0.3],
      seeds: [1, 7],
    });
    const strip = ({ id, defense, threat, corruption, seed, behavior }: { id: string; defense: string; threat: string; corruption: number; seed: number; behavior: string | null }): unknown => ({
      id,
      defense,
      threat,
      corruption,
      seed,
      behavior,
    });
    expect(expectedCells(config)).to.deep.equal(expandMatrix(config).map(strip));
  });

  it('CSV fields are quoted per RFC 4180 and numbers round-trip', () => {
    expect(csvField('plain')).to.equal('plain');
    expect(csvField('a,b')).to.equal('"a,b"');
    expect(csvField('say "hi"')).to.equal('"say ""hi"""');
    expect(csvField('two\nlines')).to.equal('"two\nlines"');
    expect(csvField(undefined)).to.equal('');
    const values = [0.1 + 0.2, 1 / 3, 1e-7, 123456789.123456789, -0, 5e-324];
    const text = toCsv(['name', ...values.map((_, k) => `v${k}`)], [['x, "y"\r\nz', ...values]]);
    const [row] = parseCsv(text);
    expect(row!['name']).to.equal('x, "y"\r\nz');
    values.forEach((v, k) => expect(Number(row![`v${k}`])).to.equal(v));
  });

  it('the CLI parses RUN_DIRs and --out, and runs as a script', () => {
    expect(parseCli(['a', 'b', '--out', 'x'])).to.deep.equal({ dirs: ['a', 'b'], out: 'x' });
    expect(parseCli(['a'])).to.deep.equal({ dirs: ['a'], out: path.join('a', 'report') });
    expect(parseCli(['--help'])).to.equal('help');
    expect(() => parseCli([])).to.throw(/usage/);
    expect(() => parseCli(['a', '--bogus'])).to.throw();
    const cli = path.join(path.dirname(fileURLToPath(import.meta.url)), '../simulations/report/cli.js');
    const o = path.join(root, 'out-cli');
    const stdout = execFileSync(process.execPath, [cli, path.join(root, 'matrix'), '--out', o], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(stdout).to.match(/18 of 20 cells finished/);
    expect(readFileSync(path.join(o, 'cells.csv'), 'utf8')).to.equal(readFileSync(path.join(out, 'cells.csv'), 'utf8'));
  });
});
