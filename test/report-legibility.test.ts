/**
 * Legibility rules of the robustness report, on the synthetic matrix of test/fixtures/report:
 * every figure has a numbered title and a title on every axis; times are in seconds and corruption levels in
 * percent wherever a reader sees them; every ± column names what it spreads over; per-round curves with many
 * defenses become small multiples; and no generated file names a path of the machine that built it.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';
import { buildReport, type BuiltReport } from '../simulations/report/build.js';
import { FIGURE_ORDER, figureTitle, type Chart } from '../simulations/report/charts.js';
import { CI_OVER_SEEDS, SD_OVER_CELLS } from '../simulations/report/format.js';
import { MAX_LINES, roundsSpec, type RoundRow } from '../simulations/report/specs.js';
import { renderSvg } from '../simulations/report/svg.js';
import { LEVELS, writeSyntheticMatrix } from './fixtures/report/synthetic.js';

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** The tables of a Markdown text: header cells and body rows, split on unescaped pipes. */
function markdownTables(md: string): { header: string[]; rows: string[][] }[] {
  const cells = (line: string): string[] =>
    line
      .replace(/^\|\s?|\s?\|$/g, '')
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
  const out: { header: string[]; rows: string[][] }[] = [];
  const lines = md.split('\n');
  for (let k = 0; k < lines.length; k++) {
    if (!lines[k]!.startsWith('|') || !/^\|[-:|]+\|$/.test(lines[k + 1] ?? '')) continue;
    const header = cells(lines[k]!);
    const rows: string[][] = [];
    for (k += 2; k < lines.length && lines[k]!.startsWith('|'); k++) rows.push(cells(lines[k]!));
    out.push({ header, rows });
  }
  return out;
}

/** Every axis of a compiled Vega spec that a reader sees (grid-only axes draw no labels). */
function visibleAxes(spec: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (o: unknown): void => {
    if (Array.isArray(o)) o.forEach(walk);
    else if (o !== null && typeof o === 'object') {
      for (const [k, v] of Object.entries(o)) {
        if (k === 'axes' && Array.isArray(v)) out.push(...(v as Record<string, unknown>[]).filter((a) => a['labels'] !== false));
        else walk(v);
      }
    }
  };
  walk(spec);
  return out;
}

/** Compiles a Vega-Lite spec, returning the Vega spec and any warning Vega-Lite logged. */
function compile(spec: TopLevelSpec): { vega: Record<string, unknown>; warnings: string[] } {
  const warnings: string[] = [];
  const logger = {
    level: () => logger,
    error: () => logger,
    warn: (...a: unknown[]) => {
      warnings.push(a.join(' '));
      return logger;
    },
    info: () => logger,
    debug: () => logger,
  };
  return { vega: vl.compile(spec, { logger: logger as never }).spec as unknown as Record<string, unknown>, warnings };
}

describe('report legibility', function () {
  let root: string;
  let out: string;
  let built: BuiltReport;
  let md: string;
  let html: string;
  let charts: Chart[];

  before(async function () {
    root = mkdtempSync(path.join(os.tmpdir(), 'rfl-legible-'));
    writeSyntheticMatrix(path.join(root, 'bench', 'matrix'));
    out = path.join(root, 'bench', 'matrix', 'report');
    built = await buildReport([path.join(root, 'bench', 'matrix')], out);
    md = readFileSync(path.join(out, 'report.md'), 'utf8');
    html = readFileSync(path.join(out, 'report.html'), 'utf8');
    // The charts as the report drew them, in figure order.
    const { renderCharts } = await import('../simulations/report/charts.js');
    charts = [...(await renderCharts(built.model)).values()].sort((a, b) => a.figure - b.figure);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('numbers the figures 1, 2, … in the order the report shows them, each with its title', () => {
    expect(charts.map((c) => c.id)).to.deep.equal(FIGURE_ORDER.filter((id) => charts.some((c) => c.id === id)));
    expect(charts.map((c) => c.figure)).to.deep.equal(charts.map((_, k) => k + 1));
    expect(charts).to.have.length(6);
    let at = -1;
    for (const c of charts) {
      const t = figureTitle(c);
      expect(t).to.match(new RegExp(`^Figure ${c.figure}\\. \\S`));
      // In the chart itself, under the image in the Markdown, and in the HTML's caption, in figure order.
      expect((c.spec as { title?: { text?: string } }).title?.text, c.id).to.equal(t);
      expect(c.svg, c.id).to.include(`>${t}</text>`);
      expect(md).to.include(`![${t}](charts/${c.id}.svg)\n\n${t}. `);
      const k = html.indexOf(`<figcaption><strong>${t}.</strong>`);
      expect(k, c.id).to.be.greaterThan(at);
      at = k;
    }
  });

  it('every axis of every chart has a title, and every facet header too', () => {
    for (const c of charts) {
      const { vega, warnings } = compile(c.spec);
      expect(warnings, c.id).to.deep.equal([]);
      const axes = visibleAxes(vega);
      expect(axes.length, c.id).to.be.greaterThan(1);
      for (const a of axes)
        expect(a['title'], `${c.id}: the ${String(a['orient'])} axis of scale ${String(a['scale'])}`)
          .to.be.a('string')
          .and.not.equal('');
      // Both positional channels have an axis a reader sees.
      expect(new Set(axes.map((a) => a['orient'])), c.id).to.include.members(['bottom', 'left']);
      const facet = (c.spec as { facet?: { title?: unknown } }).facet;
      if (facet !== undefined) expect(facet.title, `${c.id} facet`).to.be.a('string').and.not.equal('');
    }
  });

  it('states times in seconds: no milliseconds in the Markdown, the HTML or the charts', () => {
    const prose = md.replace(/`[^`]*`/g, '');
    expect(prose).to.not.match(/\bms\b|\(ms\)/);
    expect(html.replace(/<code>[^<]*<\/code>/g, '')).to.not.match(/\bms\b|\(ms\)/);
    for (const c of charts) expect(c.svg, c.id).to.not.match(/\(ms\)|\bms\b/);
    expect(charts.find((c) => c.id === 'time')!.svg).to.include('mean time per round (s)');
    // The cost table: seconds, each value the results.json milliseconds / 1000 with two decimals.
    const cost = markdownTables(md).find((t) => t.header[0] === 'defense' && t.header[1] === 'cells')!;
    expect(cost.header[2]).to.equal(`round, s (${SD_OVER_CELLS})`);
    const roundMs = built.model.costs[0]!.metrics.get('timing.roundMs')!;
    expect(cost.rows[0]![2]).to.equal(`${(roundMs.mean / 1000).toFixed(2)} ± ${(roundMs.std! / 1000).toFixed(2)}`);
  });

  it('states corruption levels in percent in tables, headings, labels and charts', () => {
    const tables = markdownTables(md);
    for (const t of tables) {
      const k = t.header.indexOf('f');
      if (k >= 0) for (const r of t.rows) expect(r[k], t.header.join('|')).to.match(/^\d+(\.\d+)? %$/);
      for (const h of t.header) expect(h).to.not.match(/f = 0\.\d/);
    }
    expect(md).to.include('| f = 10 %');
    expect(md).to.include('corruption levels 0 %, 10 %, 30 %');
    expect(md).to.match(/\| sign-flip \| .* \| 10 %, 30 % \| \d+ \|/);
    expect(md).to.not.match(/f = 0\.\d/);
    // Cell ids keep their form.
    expect(md).to.include('`fedavg__sign-flip__f10__s1`');
    const svg = (id: string): string => charts.find((c) => c.id === id)!.svg;
    for (const f of LEVELS) expect(svg('attacks')).to.include(`sign-flip · f = ${Math.round(100 * f)} %`);
    expect(svg('heatmap')).to.include('>10 %</text>');
    expect(svg('corruption')).to.include('corrupted clients f (%)');
    expect(svg('corruption')).to.include('>30%</text>');
  });

  it('labels every ± column with what it spreads over', () => {
    let columns = 0;
    for (const t of markdownTables(md)) {
      t.header.forEach((h, k) => {
        if (!t.rows.some((r) => /±/.test(r[k] ?? ''))) return;
        columns++;
        expect(
          [CI_OVER_SEEDS, SD_OVER_CELLS].some((over) => h.includes(over)),
          `column "${h}"`,
        ).to.equal(true);
      });
    }
    expect(columns).to.be.greaterThan(10);
    // Means over seeds name the seeds; the n column says what it counts.
    expect(md).to.include(`| clean (${CI_OVER_SEEDS}) |`);
    expect(CI_OVER_SEEDS).to.match(/over seeds/);
    expect(md).to.include('| n (seeds) |');
    expect(html).to.include(`<th>clean (${CI_OVER_SEEDS})</th>`);
  });

  it('writes no absolute path of the build machine: every path is relative', () => {
    const files = filesUnder(out);
    expect(files.length).to.be.greaterThan(10);
    const forbidden = [root, os.tmpdir(), process.cwd(), ...(os.homedir().length > 1 ? [os.homedir()] : [])];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const p of forbidden) expect(text.includes(p), `${path.relative(out, f)} names ${p}`).to.equal(false);
      expect(text, path.relative(out, f)).to.not.match(/(^|[\s"'`(,])\/(work|home|tmp|root|Users)\//m);
    }
    // Sources relative to the report's folder, cells relative to their source.
    expect(md).to.include('| `..` | matrix | synthetic |');
    const cells = readFileSync(path.join(out, 'cells.csv'), 'utf8').split('\r\n');
    const header = cells[0]!.split(',');
    const row = cells[1]!.split(',');
    expect(row[header.indexOf('dir')]).to.equal(`cells/${row[0]!}`);
    expect(row[header.indexOf('source')]).to.equal('..');
    // Warnings name files the same way (the interrupted cell's torn last line).
    expect(built.warnings.some((w) => w.startsWith('../cells/') && w.includes('rounds.jsonl'))).to.equal(true);
  });

  it('committed reports (docs/benchmarks/*/report) name no absolute path either', () => {
    const docs = path.resolve('docs/benchmarks');
    let files = 0;
    for (const d of readdirSync(docs)) {
      const dir = path.join(docs, d, 'report');
      if (!existsSync(dir)) continue;
      for (const f of filesUnder(dir)) {
        files++;
        expect(readFileSync(f, 'utf8'), path.relative(docs, f)).to.not.match(/(^|[\s"'`(,])\/(work|home|tmp|root|Users)\//m);
      }
    }
    expect(files).to.be.greaterThan(10);
  });

  it('is the same whichever way the directories are given (absolute, relative) and wherever the report goes', async () => {
    const matrix = path.join(root, 'bench', 'matrix');
    const other = path.join(root, 'elsewhere', 'deep', 'report');
    const before = new Map(built.files.map((f) => [f, readFileSync(f, 'utf8')]));
    const rel = await buildReport([path.relative(process.cwd(), matrix)], path.relative(process.cwd(), out));
    expect(rel.files.map((f) => path.relative(out, f)).sort()).to.deep.equal(built.files.map((f) => path.relative(out, f)).sort());
    for (const [f, text] of before) expect(readFileSync(f, 'utf8') === text, path.relative(out, f)).to.equal(true);
    mkdirSync(other, { recursive: true });
    await buildReport([matrix], other);
    const moved = readFileSync(path.join(other, 'report.md'), 'utf8');
    expect(moved).to.include('| `../../../bench/matrix` | matrix | synthetic |');
    expect(moved).to.not.include(root);
  });

  it(`per-round curves with more than ${MAX_LINES} defenses: a panel per defense, the others in grey, no hidden line`, async () => {
    const defenses = Array.from({ length: 9 }, (_, k) => `method-${k + 1}`);
    const rows: RoundRow[] = defenses.flatMap((defense, d) =>
      [1, 2, 3].flatMap((round) =>
        ['none', 'sign-flip · f = 20 %'].map((scenario, s) => ({ scenario, scenarioOrder: s, defense, round, mean: 0.1 + 0.08 * d + 0.01 * round - 0.05 * s, lo: null, hi: null, n: 1 })),
      ),
    );
    const spec = roundsSpec(rows, defenses, 'Figure 4. Clean accuracy per round') as unknown as {
      facet: { field: string };
      columns: number;
      spec: { layer: unknown[] };
      data: { values: { panel: string; focus: boolean; defense: string }[] };
    };
    expect(spec.facet.field).to.equal('panel');
    const panels = [...new Set(spec.data.values.map((v) => v.panel))];
    expect(panels).to.have.length(defenses.length * 2);
    // Each panel holds every defense of its scenario: one in focus (its own), the others as grey context.
    for (const p of panels) {
      const at = spec.data.values.filter((v) => v.panel === p);
      expect(at.filter((v) => v.focus).map((v) => v.defense)).to.have.length(3);
      expect(new Set(at.map((v) => v.defense)).size).to.equal(defenses.length);
    }
    const { vega, warnings } = compile(spec as unknown as TopLevelSpec);
    expect(warnings).to.deep.equal([]);
    for (const a of visibleAxes(vega)) expect(a['title']).to.be.a('string').and.not.equal('');
    // No legend to hide a line: the panel header names the defense.
    expect(JSON.stringify(vega)).to.not.include('"legends"');
    expect(await renderSvg(spec as unknown as TopLevelSpec)).to.include('method-9 — sign-flip · f = 20 %');
    // With few defenses, one panel per scenario and a line per defense, as before.
    const few = roundsSpec(
      rows.filter((r) => defenses.indexOf(r.defense) < MAX_LINES),
      defenses,
      'Figure 4. x',
    ) as unknown as { facet: { field: string } };
    expect(few.facet.field).to.equal('scenario');
  });
});
