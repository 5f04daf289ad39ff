/**
 * Benchmark matrices: expansion and validation of cells, and an end-to-end run of a tiny matrix (synthetic data,
 * the linear model, real coordinator and clients) that resumes without re-running finished cells.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { expandMatrix, loadMatrix, parseMatrix, type MatrixConfig } from '../simulations/benchmark/matrix.js';
import { runMatrix } from '../simulations/benchmark/run.js';
import { buildReport } from '../simulations/report/build.js';
import { ConfigError } from '../shared/federated/errors.js';
import { TINY_LINEAR_SCENARIO } from './helpers/tiny-federation.js';

const data = makeSyntheticDataset({ count: 200, testCount: 40, seed: 9 });
const tiny = (): MatrixConfig =>
  parseMatrix({
    name: 'tiny',
    base: { ...TINY_LINEAR_SCENARIO, numClients: 4, finalAttacks: ['clean', 'fgsm'] },
    defenses: [
      { name: 'fedavg', method: 'fedavg', secure: true },
      { name: 'fedavg+median', method: 'fedavg', secure: false, aggregation: { rule: 'median' } },
    ],
    threats: [{ name: 'none' }, { name: 'sign-flip', behavior: { kind: 'sign-flip', s: 3 } }],
    corruption: [0, 0.25],
    seeds: [1],
  });

describe('benchmark matrices', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('expands defenses × threats × corruption levels × seeds, f = 0 only as the none threat', () => {
    const cells = expandMatrix(tiny());
    expect(cells.map((c) => c.id)).to.deep.equal(['fedavg__none__f0__s1', 'fedavg__sign-flip__f25__s1', 'fedavg+median__none__f0__s1', 'fedavg+median__sign-flip__f25__s1']);
    const c = cells[3]!;
    expect(c.scenario.corrupted!.fraction).to.equal(0.25);
    expect(c.scenario.corrupted!.behavior.kind).to.equal('sign-flip');
    expect(c.scenario.aggregation.rule).to.equal('median');
    expect(c.scenario.secure).to.equal(false);
    expect(cells[0]!.scenario.corrupted).to.equal(undefined);
  });

  it('refuses a bad cell before anything runs, naming the cell and the field', () => {
    const m = tiny();
    m.defenses.push({ name: 'bad', method: 'fedavg', secure: true, aggregation: { rule: 'median' } });
    expect(() => expandMatrix(m)).to.throw(ConfigError, /matrix cell bad__none__f0__s1: .*aggregation\.rule/);
    expect(() => parseMatrix({ ...tiny(), defenses: [{ name: 'a' }, { name: 'a' }] })).to.throw(ConfigError, /"a" appears twice/);
    expect(() => parseMatrix({ ...tiny(), seeds: [] })).to.throw(ConfigError, /seeds/);
  });

  it('ships presets that expand without error', () => {
    const dir = path.resolve('simulations/benchmark/presets');
    for (const name of ['quick', 'paper-mnist-embedded', 'paper-fashion-mnist', 'corruption-sweep', 'smoke', 'adaptive']) {
      const cells = expandMatrix(loadMatrix(path.join(dir, `${name}.yaml`), ['base.rounds=3']));
      expect(cells.length, name).to.be.greaterThan(0);
      expect(cells.every((c) => c.scenario.federated.rounds === 3)).to.equal(true);
    }
  });

  it('runs a tiny matrix end to end and resumes without re-running finished cells', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-matrix-')), 'm');
    const datasets = new Map([['synthetic', data]]);
    const first = await runMatrix(tiny(), { out, datasets, log: () => undefined });
    expect(first.ran).to.have.length(4);
    for (const id of first.ran) {
      for (const f of ['cell.json', 'results.json', 'rounds.jsonl', 'scenario.json']) expect(existsSync(path.join(out, 'cells', id, f)), `${id}/${f}`).to.equal(true);
      const results = JSON.parse(readFileSync(path.join(out, 'cells', id, 'results.json'), 'utf8')) as { final: { accuracy: Record<string, number> } };
      expect(Object.keys(results.final.accuracy).sort()).to.deep.equal(['clean', 'fgsm']);
    }
    const cell: unknown = JSON.parse(readFileSync(path.join(out, 'cells', 'fedavg__sign-flip__f25__s1', 'cell.json'), 'utf8'));
    expect(cell).to.deep.equal({ id: 'fedavg__sign-flip__f25__s1', defense: 'fedavg', threat: 'sign-flip', corruption: 0.25, seed: 1, behavior: 'sign-flip' });
    const meta = JSON.parse(readFileSync(path.join(out, 'matrix.json'), 'utf8')) as { software: { node: string } };
    expect(meta.software.node).to.equal(process.version);

    // Resume: nothing to do; then an interrupted cell (no results.json) runs again, alone.
    const kept = statSync(path.join(out, 'cells', 'fedavg__none__f0__s1', 'results.json')).mtimeMs;
    const second = await runMatrix(tiny(), { out, datasets, log: () => undefined });
    expect(second.ran).to.deep.equal([]);
    expect(second.skipped).to.have.length(4);
    rmSync(path.join(out, 'cells', 'fedavg+median__none__f0__s1', 'results.json'));
    const third = await runMatrix(tiny(), { out, datasets, log: () => undefined });
    expect(third.ran).to.deep.equal(['fedavg+median__none__f0__s1']);
    expect(statSync(path.join(out, 'cells', 'fedavg__none__f0__s1', 'results.json')).mtimeMs).to.equal(kept);

    // A priority list runs exactly the listed cells, in its order, and --shard splits the list, not the matrix.
    rmSync(path.join(out, 'cells', 'fedavg__sign-flip__f25__s1', 'results.json'));
    rmSync(path.join(out, 'cells', 'fedavg+median__sign-flip__f25__s1', 'results.json'));
    const listed = await runMatrix(tiny(), { out, datasets, log: () => undefined, cells: ['fedavg+median__sign-flip__f25__s1', 'fedavg__sign-flip__f25__s1'], shard: { index: 0, count: 2 } });
    expect(listed.ran).to.deep.equal(['fedavg+median__sign-flip__f25__s1']);
    const rest = await runMatrix(tiny(), { out, datasets, log: () => undefined, cells: ['fedavg+median__sign-flip__f25__s1', 'fedavg__sign-flip__f25__s1'] });
    expect(rest.ran).to.deep.equal(['fedavg__sign-flip__f25__s1']);
    let unknown: Error | undefined;
    try {
      await runMatrix(tiny(), { out, datasets, log: () => undefined, cells: ['fedavg__none__f0__s9'] });
    } catch (err) {
      unknown = err as Error;
    }
    expect(unknown?.message).to.match(/cell fedavg__none__f0__s9: the matrix has no such cell/);

    // The report builds from the finished matrix: every cell, the charts inline, the numbers in the CSV.
    const rep = path.join(out, 'report');
    await buildReport([out], rep);
    const html = readFileSync(path.join(rep, 'report.html'), 'utf8');
    expect(html.match(/<svg/g)?.length ?? 0).to.be.greaterThan(3);
    expect(html).to.not.match(/<script/);
    const csv = readFileSync(path.join(rep, 'cells.csv'), 'utf8');
    for (const id of first.ran) expect(csv).to.contain(id);
    const res = JSON.parse(readFileSync(path.join(out, 'cells', 'fedavg__none__f0__s1', 'results.json'), 'utf8')) as { final: { accuracy: { clean: number } } };
    expect(csv).to.contain(String(res.final.accuracy.clean));

    // A different matrix into the same directory is refused.
    const other = tiny();
    other.seeds = [2];
    let refused: Error | undefined;
    try {
      await runMatrix(other, { out, datasets, log: () => undefined });
    } catch (err) {
      refused = err as Error;
    }
    expect(refused?.message).to.match(/holds a different matrix/);
  });
});
