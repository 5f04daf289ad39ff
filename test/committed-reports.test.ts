/**
 * Committed reports are rebuilt whenever the report builder changes: each report under docs/benchmarks/<m>/report
 * must equal what today's builder makes from the committed cells of <m>. The build runs in a scratch folder laid
 * out like the matrix (its matrix.json and cells/ linked), so every relative path comes out the same. Compared:
 * report.md, report.html, the CSV files and the charts (charts/*.svg), both ways: a file the builder makes and
 * the commit lacks is stale too, and so is a committed one the builder no longer makes.
 * The fix when this fails: `npx rfl report docs/benchmarks/<m>` and commit.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReport } from '../simulations/report/build.js';

const root = path.resolve('docs/benchmarks');
/** The report's compared files (Markdown, HTML, CSV, and SVG charts under charts/), relative, sorted. */
function reportFiles(dir: string): string[] {
  const out: string[] = [];
  for (const f of readdirSync(dir)) if (/\.(md|csv|html)$/.test(f)) out.push(f);
  const charts = path.join(dir, 'charts');
  if (existsSync(charts)) for (const f of readdirSync(charts)) if (f.endsWith('.svg')) out.push(`charts/${f}`);
  return out.sort();
}

const committed = readdirSync(root).filter((m) => existsSync(path.join(root, m, 'report', 'report.md')) && existsSync(path.join(root, m, 'matrix.json')));

describe('committed reports are current', function () {
  this.timeout(120000);

  it('finds the committed reports', () => {
    expect(committed.length).to.be.greaterThan(3);
  });

  for (const m of committed) {
    it(`docs/benchmarks/${m}/report equals a fresh build from its cells`, async () => {
      const scratch = path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-reports-')), m);
      mkdirSync(scratch);
      for (const entry of ['matrix.json', 'cells']) symlinkSync(path.join(root, m, entry), path.join(scratch, entry));
      await buildReport([scratch], path.join(scratch, 'report'));
      const files = reportFiles(path.join(root, m, 'report'));
      expect(files).to.include('report.md');
      const fix = `run \`npx rfl report docs/benchmarks/${m}\` (remove the report folder first if files went away) and commit`;
      expect(files, `${m}/report: the files differ from a fresh build's; ${fix}`).to.deep.equal(reportFiles(path.join(scratch, 'report')));
      for (const f of files) {
        const fresh = readFileSync(path.join(scratch, 'report', f), 'utf8');
        const old = readFileSync(path.join(root, m, 'report', f), 'utf8');
        expect(fresh === old, `${m}/report/${f} is stale: ${fix}`).to.equal(true);
      }
    });
  }
});
