/**
 * The matrix's `profiles` axis (simulations/benchmark/matrix.ts) and the report's view of it (expected.ts): each
 * defense crossed with the profiles unless it pins one, reference cells named `<defense>@reference`, the same
 * coordinates on both sides, and the mistakes a user can make refused with the field named.
 */
import { expect } from 'chai';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { expectedCells } from '../simulations/report/expected.js';

describe('benchmark matrix: profiles axis', () => {
  const base = { preset: 'quick', dataset: 'synthetic', rounds: 1, numClients: 4, fraction: 1 };
  const matrix = {
    name: 'm',
    base,
    defenses: [
      { name: 'fedavg', method: 'fedavg', profile: 'default' },
      { name: 'fed-bva', method: 'fed-bva' },
    ],
    profiles: ['default', 'reference'],
    seeds: [1, 2],
  };

  it('crosses unpinned defenses with the profiles and names reference cells <defense>@reference', () => {
    const cells = expandMatrix(parseMatrix(matrix));
    expect(cells.map((c) => c.id)).to.deep.equal([
      'fedavg__none__f0__s1',
      'fedavg__none__f0__s2',
      'fed-bva__none__f0__s1',
      'fed-bva__none__f0__s2',
      'fed-bva@reference__none__f0__s1',
      'fed-bva@reference__none__f0__s2',
    ]);
    expect(cells.map((c) => c.scenario.federated.profile)).to.deep.equal(['default', 'default', 'default', 'default', 'reference', 'reference']);
    expect(cells[4]!.profile).to.equal('reference');
    expect(cells[0]!.profile).to.equal(undefined);
    // The report lists the same coordinates from the stored configuration alone.
    expect(expectedCells(parseMatrix(matrix))).to.deep.equal(cells.map(({ scenario: _s, ...coords }) => coords));
  });

  it('refuses a profile set where it would be silently replaced, a misspelt pinned profile and a repeated one', () => {
    const bad = (m: unknown): string => {
      try {
        parseMatrix(m);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(bad({ ...matrix, base: { ...base, profile: 'reference' } })).to.match(/base\.profile: the profile is an axis/);
    expect(bad({ ...matrix, defenses: [{ name: 'x', method: 'fed-bva', profile: 'Reference' }] })).to.match(/defenses\.0\.profile/);
    expect(bad({ ...matrix, profiles: ['reference', 'reference'] })).to.match(/each profile once/);
    expect(bad({ ...matrix, threats: [{ name: 'none', profile: 'reference' }] })).to.match(/threat cannot set profile/);
  });

  it('a matrix without profiles is the default profile only, as before the axis existed', () => {
    const { profiles: _p, ...old } = matrix;
    const cells = expandMatrix(parseMatrix(old));
    expect(cells.map((c) => c.id)).to.deep.equal(['fedavg__none__f0__s1', 'fedavg__none__f0__s2', 'fed-bva__none__f0__s1', 'fed-bva__none__f0__s2']);
    expect(cells.every((c) => c.scenario.federated.profile === 'default')).to.equal(true);
  });
});
