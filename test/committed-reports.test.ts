/**
 * Committed reports are rebuilt whenever the report builder changes: each report under docs/benchmarks/<m>/report
 * must equal what today's builder makes from the committed cells of <m>. The build runs in a scratch folder laid
 * out like the matrix (its matrix.json and cells/ linked), so every relative path comes out the same.
 * The fix when this fails: `npx rfl report docs/benchmarks/<m>` and commit.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildReport } from '../simulations/report/build.js';

const root = path.resolve('docs/benchmarks');
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
      const files = readdirSync(path.join(root, m, 'report')).filter((f) => /\.(md|csv|html)$/.test(f));
      expect(files).to.include('report.md');
      for (const f of files) {
        const fresh = readFileSync(path.join(scratch, 'report', f), 'utf8');
        const old = readFileSync(path.join(root, m, 'report', f), 'utf8');
        expect(fresh === old, `${m}/report/${f} is stale: run \`npx rfl report docs/benchmarks/${m}\` and commit`).to.equal(true);
      }
    });
  }
});
