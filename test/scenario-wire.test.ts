/**
 * A scenario travels to a client host as scenario-file fields (simulations/scenario-wire.ts) and is validated
 * there as a file is: for every shipped scenario and every cell of every shipped matrix preset, what arrives
 * resolves to exactly the scenario that left; and what fails validation there fails with the file's error.
 */
import { expect } from 'chai';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { expandMatrix, loadMatrix } from '../simulations/benchmark/matrix.js';
import { loadScenario } from '../simulations/scenario.js';
import { scenarioFromWire, scenarioToWire } from '../simulations/scenario-wire.js';
import { ConfigError } from '../shared/federated/errors.js';

const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

describe('a scenario on the wire to a client host', () => {
  it('round-trips every shipped scenario and every cell of every preset', () => {
    let n = 0;
    const scenarios = path.resolve('simulations/scenarios');
    for (const f of readdirSync(scenarios).filter((f) => /\.ya?ml$/.test(f))) {
      const s = loadScenario(path.join(scenarios, f));
      expect(plain(scenarioFromWire(scenarioToWire(s))), f).to.deep.equal(plain(s));
      n++;
    }
    const presets = path.resolve('simulations/benchmark/presets');
    for (const f of readdirSync(presets).filter((f) => f.endsWith('.yaml'))) {
      for (const cell of expandMatrix(loadMatrix(path.join(presets, f)))) {
        expect(plain(scenarioFromWire(scenarioToWire(cell.scenario))), cell.id).to.deep.equal(plain(cell.scenario));
        n++;
      }
    }
    expect(n).to.be.greaterThan(100);
  });

  it('refuses a bad scenario with the error a file would get', () => {
    const wire = scenarioToWire(loadScenario(path.resolve('simulations/scenarios/sign-flip.yaml')));
    expect(() => scenarioFromWire({ ...wire, rounds: 0 })).to.throw(ConfigError, /rounds/);
    expect(() => scenarioFromWire({ ...wire, roundz: 3 })).to.throw(ConfigError, /unknown field "roundz" \(did you mean rounds\?\)/);
    expect(() => scenarioFromWire('x')).to.throw(ConfigError, /a scenario must be an object/);
  });
});
