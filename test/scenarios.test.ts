/**
 * The shipped scenario files (simulations/scenarios/): every one loads and validates with `loadScenario`, so a
 * change to the scenario format, the behaviours or the aggregation rules that breaks a shipped file fails here
 * instead of in a user's hands. Also the loader's refusals (each a ConfigError naming the field) and overrides.
 * The scenarios themselves are not run here: a run takes minutes.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../shared/federated/errors.js';
import { BEHAVIOR_KINDS } from '../simulations/behaviors/spec.js';
import { thrownConfigError } from './helpers/errors.js';
import { applyOverrides, loadScenario, resolveScenario } from '../simulations/scenario.js';

/** simulations/scenarios/ of the source tree: next to the compiled tree's root (dist/test/..), else under the working directory. */
function scenariosDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = [path.resolve(here, '../../simulations/scenarios'), path.resolve(process.cwd(), 'simulations/scenarios')];
  const dir = candidates.find((d) => existsSync(path.join(d, 'quickstart.yaml')));
  if (dir === undefined) throw new Error(`simulations/scenarios not found (looked in ${candidates.join(', ')}); run mocha from the repository root`);
  return dir;
}

const dir = scenariosDir();
const files = readdirSync(dir)
  .filter((f) => /\.(ya?ml|json)$/i.test(f))
  .sort();
const at = (f: string): string => path.join(dir, f);
const rawOf = (f: string): Record<string, unknown> => {
  const text = readFileSync(at(f), 'utf8');
  return (/\.ya?ml$/i.test(f) ? parseYaml(text) : JSON.parse(text)) as Record<string, unknown>;
};

/** Runs `fn`, expecting a ConfigError whose fields include every one of `fields`; returns it. */
function configError(fn: () => unknown, ...fields: string[]): ConfigError {
  const e = thrownConfigError(fn);
  for (const f of fields) expect(e.fields, e.message).to.include(f);
  return e;
}

const tmpDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'rfl-scenarios-'));

describe('shipped scenario files', () => {
  it('include the standard scenario, one per behaviour and the robust-rule scenarios', () => {
    const expected = [
      'quickstart.yaml',
      'standard.yaml',
      ...BEHAVIOR_KINDS.map((k) => `${k}.yaml`),
      'median-vs-sign-flip.yaml',
      'krum-vs-alie.yaml',
      'trimmed-mean-vs-gaussian.yaml',
      'norm-clip-vs-scale.yaml',
      'grouped-vs-sign-flip.yaml',
    ];
    expect(files).to.include.members(expected);
  });

  for (const f of files) {
    describe(f, () => {
      it('loads and validates with loadScenario', () => {
        const s = loadScenario(at(f));
        expect(s.federated.rounds).to.be.at.least(1);
        expect(s.federated.numClients).to.be.at.least(1);
      });

      it('has a name (its file name) and a description', () => {
        const raw = rawOf(f);
        expect(raw['name'], 'name').to.be.a('string').and.not.empty;
        expect(raw['description'], 'description').to.be.a('string').and.not.empty;
        const s = loadScenario(at(f));
        expect(s.name).to.equal(raw['name']);
        expect(s.name).to.equal(f.replace(/\.(json|ya?ml)$/i, ''));
        expect(s.description).to.equal(raw['description']);
      });

      if (/\.ya?ml$/i.test(f)) {
        it('opens with a comment block saying what it studies', () => {
          const lines = readFileSync(at(f), 'utf8').split('\n');
          expect(lines[0], 'first line').to.match(/^# \S/);
          expect(lines.filter((l) => l.startsWith('#')).length).to.be.at.least(2);
        });
      }

      it('is listed in the README with its run command', () => {
        const readme = readFileSync(at('README.md'), 'utf8');
        expect(readme).to.include(`simulations/scenarios/${f}`);
      });
    });
  }

  it('cover every behaviour kind, every aggregation rule (multi-krum is an override of krum-vs-alie) and both modes', () => {
    const loaded = files.map((f) => loadScenario(at(f)));
    const kinds = new Set(loaded.flatMap((s) => (s.corrupted !== undefined ? [s.corrupted.behavior.kind] : [])));
    expect([...kinds].sort()).to.deep.equal([...BEHAVIOR_KINDS].sort());
    const rules = new Set(loaded.map((s) => s.aggregation.rule));
    expect([...rules]).to.include.members(['grouped', 'krum', 'mean', 'median', 'norm-clip', 'trimmed-mean', 'fltrust', 'foolsgold']);
    expect(new Set(loaded.map((s) => s.secure))).to.deep.equal(new Set([true, false]));
  });

  it('standard.yaml is the benchmark standard: 100 clients, m = 10, 1 epoch, cnn-mnist, fed-bva, secure, auto graph', () => {
    const s = loadScenario(at('standard.yaml'));
    expect(s.dataset).to.equal('mnist-embedded');
    expect(s.federated).to.include({ numClients: 100, fraction: 0.1, localEpochs: 1, model: 'cnn-mnist', method: 'fed-bva', rounds: 5, evalEvery: 5, evalSubset: 1000 });
    expect(s.federated.evalAttacks).to.deep.equal(['clean', 'fgsm', 'pgd-10', 'pgd-20']);
    expect(s.federated.finalAttacks).to.deep.equal(['clean', 'fgsm', 'pgd-10', 'pgd-20']);
    expect(s.secure).to.equal(true);
    expect(s.secagg.graph).to.deep.equal({ kind: 'auto' });
    expect(s.aggregation).to.deep.equal({ rule: 'mean' });
    expect(s.corrupted).to.equal(undefined);
  });

  it('the per-behaviour scenarios share one federation: 20 clients, m = 10, f = 2, 2 local epochs, evalSubset 1000', () => {
    for (const kind of BEHAVIOR_KINDS) {
      const s = loadScenario(at(`${kind}.yaml`));
      expect(s.dataset, kind).to.equal('mnist-embedded');
      expect(s.federated, kind).to.include({ numClients: 20, fraction: 0.5, localEpochs: 2, evalSubset: 1000 });
      expect(s.corrupted?.fraction, kind).to.equal(0.2);
      expect(s.corrupted?.behavior.kind, kind).to.equal(kind);
    }
  });

  it('the fault scenarios set short stage timeouts', () => {
    for (const f of ['crash.yaml', 'straggler.yaml']) {
      const s = loadScenario(at(f));
      expect(s.timeoutsMs, f).to.include({ train: 60000, setup: 5000, shareKeys: 5000, collectMasked: 5000, consistency: 5000, unmask: 5000 });
    }
    const st = loadScenario(at('straggler.yaml')).corrupted!.behavior;
    // Delays reach past the train timeout, so some stragglers miss the round and some do not.
    expect(st).to.deep.include({ kind: 'straggler', delayMs: { uniform: [0, 120000] }, stages: ['train'] });
  });

  it('the robust-rule scenarios run in plaintext, grouped in secure mode with groups of at least 3', () => {
    for (const f of ['median-vs-sign-flip.yaml', 'krum-vs-alie.yaml', 'trimmed-mean-vs-gaussian.yaml', 'norm-clip-vs-scale.yaml']) {
      expect(loadScenario(at(f)).secure, f).to.equal(false);
    }
    const g = loadScenario(at('grouped-vs-sign-flip.yaml'));
    expect(g.secure).to.equal(true);
    expect(g.aggregation).to.include({ rule: 'grouped', groups: 3, across: 'median' });
    const m = Math.floor(g.federated.fraction * g.federated.numClients);
    expect(Math.floor(m / 3)).to.be.at.least(3);
    const k = loadScenario(at('krum-vs-alie.yaml'));
    expect(k.aggregation).to.deep.equal({ rule: 'krum', f: 2 });
    expect(k.corrupted?.behavior).to.deep.equal({ kind: 'alie', z: 1 });
  });
});

describe('scenario loader refusals and overrides', () => {
  it('refuses a plaintext rule with secure: true, naming aggregation.rule and secure', () => {
    for (const rule of ['median', 'trimmed-mean', 'norm-clip']) {
      configError(() => loadScenario(at('median-vs-sign-flip.yaml'), ['secure=true', `aggregation={rule: ${rule}}`]), 'aggregation.rule', 'secure');
    }
    configError(() => loadScenario(at('krum-vs-alie.yaml'), ['secure=true']), 'aggregation.rule', 'secure');
    configError(() => loadScenario(at('label-flip.yaml'), ['aggregation.rule=median']), 'aggregation.rule', 'secure');
    // And grouped without secure aggregation.
    configError(() => loadScenario(at('grouped-vs-sign-flip.yaml'), ['secure=false']), 'aggregation.rule', 'secure');
  });

  it('refuses an unknown top-level field, naming it', () => {
    const e = configError(() => loadScenario(at('label-flip.yaml'), ['roundz=3']), 'roundz');
    expect(e.message).to.include('roundz');
    configError(() => resolveScenario({ method: 'fedavg', learningRate: 0.1 }), 'learningRate');
  });

  it('refuses a bad behaviour parameter, naming its path', () => {
    const e = configError(() => loadScenario(at('gaussian.yaml'), ['corrupted.behavior.sigma=-1']), 'corrupted.behavior.sigma');
    expect(e.message).to.include('-1');
    configError(() => loadScenario(at('backdoor.yaml'), ['corrupted.behavior.p=1.5']), 'corrupted.behavior.p');
    configError(() => loadScenario(at('crash.yaml'), ['corrupted.behavior.stage=reshare']), 'corrupted.behavior.stage');
    configError(() => loadScenario(at('label-flip.yaml'), ['corrupted.behavior.typo=1']), 'corrupted.behavior.typo');
    configError(() => loadScenario(at('alie.yaml'), ['corrupted.poisonBva=true']), 'corrupted.poisonBva', 'corrupted.behavior.kind');
  });

  it('refuses a rule parameter that breaks its constraint at the scenario cohort size', () => {
    // Krum needs m > 2f + 2: at m = 10, f = 4 is too many.
    configError(() => loadScenario(at('krum-vs-alie.yaml'), ['aggregation.f=4']), 'aggregation.f');
    // Grouped needs groups of at least 3: 10 clients in 4 groups leaves groups of 2.
    configError(() => loadScenario(at('grouped-vs-sign-flip.yaml'), ['aggregation.groups=4']), 'aggregation.groups');
    // A crash at a secure-aggregation stage needs secure aggregation.
    configError(() => loadScenario(at('crash.yaml'), ['secure=false']), 'corrupted.behavior.stage', 'secure');
  });

  it('refuses a bad stage timeout and an unknown stage', () => {
    configError(() => loadScenario(at('crash.yaml'), ['timeoutsMs.train=0']), 'timeoutsMs.train');
    configError(() => loadScenario(at('crash.yaml'), ['timeoutsMs.training=1000']), 'timeoutsMs');
  });

  it('refuses an invalid YAML or JSON file and a missing file with a ConfigError', () => {
    const d = tmpDir();
    const yamlFile = path.join(d, 'broken.yaml');
    writeFileSync(yamlFile, 'name: broken\nmethod: fed-bva\ncorrupted: { fraction: 0.2, behavior: [kind: gaussian\n');
    const e = configError(() => loadScenario(yamlFile), 'config');
    expect(e.message).to.match(/not valid YAML/);
    const jsonFile = path.join(d, 'broken.json');
    writeFileSync(jsonFile, '{ "method": "fed-bva", ');
    expect(configError(() => loadScenario(jsonFile), 'config').message).to.match(/not valid JSON/);
    configError(() => loadScenario(path.join(d, 'absent.yaml')), 'config');
    const listFile = path.join(d, 'list.yaml');
    writeFileSync(listFile, '- method: fed-bva\n');
    configError(() => loadScenario(listFile), 'config');
  });

  it('loads a JSON scenario and names it after its file when it has no name', () => {
    const d = tmpDir();
    const file = path.join(d, 'my-run.json');
    writeFileSync(file, JSON.stringify({ method: 'fedavg', rounds: 2, secure: false, aggregation: { rule: 'median' } }));
    const s = loadScenario(file);
    expect(s.name).to.equal('my-run');
    expect(s.federated.rounds).to.equal(2);
    expect(s.aggregation).to.deep.equal({ rule: 'median' });
  });

  it('applies overrides before validation (loadScenario and applyOverrides)', () => {
    const s = loadScenario(at('label-flip.yaml'), ['rounds=2', 'corrupted.fraction=0.3']);
    expect(s.federated.rounds).to.equal(2);
    expect(s.corrupted?.fraction).to.equal(0.3);
    expect(s.corrupted?.behavior.kind).to.equal('label-flip');
    // What the CLI's shorthands turn into (--clients, --seed, --workers), and a nested object value.
    const t = loadScenario(at('crash.yaml'), ['numClients=40', 'seed=7', 'workers=3', 'timeoutsMs.unmask=9000', 'corrupted.behavior={kind: straggler, delayMs: 10}']);
    expect(t.federated).to.include({ numClients: 40, seed: 7 });
    expect(t.workers).to.equal(3);
    expect(t.timeoutsMs).to.include({ unmask: 9000, train: 60000 });
    expect(t.corrupted?.behavior).to.deep.equal({ kind: 'straggler', delayMs: 10, stages: ['train'] });
    // An override can make a refused scenario valid, and the other way round.
    expect(loadScenario(at('median-vs-sign-flip.yaml'), ['secure=true', 'aggregation={rule: grouped, groups: 3}']).aggregation.rule).to.equal('grouped');

    const raw = { method: 'fedavg', corrupted: { fraction: 0.1, behavior: { kind: 'ipm' } } };
    const out = applyOverrides(raw, ['corrupted.behavior.eps=100', 'bva.lambda=0.5', 'evalAttacks=[clean, fgsm]']) as Record<string, unknown> & { corrupted: { behavior: unknown } };
    expect(out.corrupted.behavior).to.deep.equal({ kind: 'ipm', eps: 100 });
    expect(out['bva']).to.deep.equal({ lambda: 0.5 });
    expect(out['evalAttacks']).to.deep.equal(['clean', 'fgsm']);
    expect(raw.corrupted.behavior, 'the input is not mutated').to.deep.equal({ kind: 'ipm' });
    expect(applyOverrides(raw, [])).to.equal(raw);
    configError(() => applyOverrides(raw, ['rounds']), 'set');
    configError(() => applyOverrides(raw, ['=3']), 'set');
  });
});
