/**
 * The matrix's `heterogeneity` axis (simulations/benchmark/matrix.ts) and the report's view of it: every defense
 * crossed with the named client partitions, cells named `<defense>~<partition>` with that partition in their
 * scenario, the same coordinates in expected.ts, the mistakes refused with the field named, and the worst-case
 * tables rearranged into per-defense heatmaps (rows f, columns partitions).
 */
import { expect } from 'chai';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { splitHeterogeneity } from '../simulations/benchmark/cell-id.js';
import { expectedCells } from '../simulations/report/expected.js';
import { heterogeneityMaps } from '../simulations/report/heterogeneity.js';
import type { ExtremeTable } from '../simulations/report/tables.js';
import type { Group } from '../simulations/report/aggregate.js';
import { summarize } from '../simulations/report/stats.js';

describe('benchmark matrix: heterogeneity axis', () => {
  const base = { preset: 'quick', dataset: 'synthetic', rounds: 1, numClients: 4, fraction: 1 };
  const matrix = {
    name: 'm',
    base,
    defenses: [
      { name: 'mean', method: 'fedavg', secure: false },
      { name: 'median', method: 'fedavg', secure: false, aggregation: { rule: 'median' } },
    ],
    heterogeneity: [
      { name: 'a0.5', partition: { kind: 'dirichlet', alpha: 0.5 } },
      { name: 'iid', partition: { kind: 'iid' } },
    ],
    threats: [{ name: 'none' }, { name: 'sign-flip', behavior: { kind: 'sign-flip' } }],
    corruption: [0.25],
    seeds: [1],
  };

  it('crosses every defense with the partitions, each cell running its own partition', () => {
    const cells = expandMatrix(parseMatrix(matrix));
    expect(cells.map((c) => c.id)).to.deep.equal([
      'mean~a0.5__none__f0__s1',
      'mean~a0.5__sign-flip__f25__s1',
      'mean~iid__none__f0__s1',
      'mean~iid__sign-flip__f25__s1',
      'median~a0.5__none__f0__s1',
      'median~a0.5__sign-flip__f25__s1',
      'median~iid__none__f0__s1',
      'median~iid__sign-flip__f25__s1',
    ]);
    expect(cells.map((c) => c.heterogeneity)).to.deep.equal(['a0.5', 'a0.5', 'iid', 'iid', 'a0.5', 'a0.5', 'iid', 'iid']);
    expect(cells[0]!.scenario.federated.partition).to.deep.include({ kind: 'dirichlet', alpha: 0.5 });
    expect(cells[2]!.scenario.federated.partition).to.deep.include({ kind: 'iid' });
    expect(splitHeterogeneity(cells[5]!.defense)).to.deep.equal({ defense: 'median', heterogeneity: 'a0.5' });
    expect(expectedCells(parseMatrix(matrix))).to.deep.equal(cells.map(({ scenario: _s, ...coords }) => coords));
  });

  it('refuses a partition the axis would silently replace, a repeated name and a bad name', () => {
    const bad = (m: unknown): string => {
      try {
        parseMatrix(m);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(bad({ ...matrix, base: { ...base, partition: { kind: 'iid' } } })).to.match(/base\.partition: the partition is the heterogeneity axis/);
    expect(bad({ ...matrix, defenses: [{ name: 'x', method: 'fedavg', partition: { kind: 'iid' } }] })).to.match(/defense "x" sets partition/);
    expect(bad({ ...matrix, heterogeneity: [matrix.heterogeneity[0], matrix.heterogeneity[0]] })).to.match(/heterogeneity "a0.5" appears twice/);
    expect(bad({ ...matrix, heterogeneity: [{ name: 'a~b', partition: { kind: 'iid' } }] })).to.match(/heterogeneity\.0\.name/);
    // A partition the scenario refuses is named with its cell.
    expect(() => expandMatrix(parseMatrix({ ...matrix, heterogeneity: [{ name: 'x', partition: { kind: 'nope' } }] }))).to.throw(/matrix cell mean~x__none__f0__s1/);
  });

  it('rearranges the worst-case tables into per-defense heatmaps, rows f and columns partitions', () => {
    const summary = (mean: number) => summarize([mean])!;
    const entry = (defense: string, corruption: number, mean: number) => ({ defense, corruption, group: {} as Group, summary: summary(mean), considered: ['none'] });
    const table = (id: ExtremeTable['id'], k: number): ExtremeTable => ({
      id,
      title: id,
      description: '',
      metric: 'm',
      reduce: 'min',
      defenses: ['mean~a0.5', 'mean~iid'],
      levels: [0, 0.25],
      entries: [entry('mean~a0.5', 0, 0.8 * k), entry('mean~a0.5', 0.25, 0.4 * k), entry('mean~iid', 0, 0.9 * k), entry('mean~iid', 0.25, 0.6 * k)],
    });
    const maps = heterogeneityMaps(
      [table('worst-clean', 1), table('worst-robust', 0.5)],
      (f) => `${f * 100} %`,
      (v) => (v * 100).toFixed(1),
    )!;
    expect(maps.defenses).to.deep.equal(['mean']);
    expect(maps.heterogeneities).to.deep.equal(['a0.5', 'iid']);
    expect(maps.measures).to.deep.equal(['clean', 'robust']);
    expect(maps.levels).to.deep.equal(['0 %', '25 %']);
    const at = (measure: string, level: string, h: string) => maps.rows.find((r) => r.measure === measure && r.level === level && r.heterogeneity === h)!.value;
    expect(at('clean', '25 %', 'a0.5')).to.equal(0.4);
    expect(at('robust', '0 %', 'iid')).to.equal(0.45);
    // A matrix without the axis has no heatmaps.
    expect(heterogeneityMaps([{ ...table('worst-clean', 1), defenses: ['mean'], entries: [entry('mean', 0, 0.8)] }], String, String)).to.equal(undefined);
  });
});
