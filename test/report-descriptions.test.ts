/**
 * The descriptions a report prints in its Sources table say what ran: every claim a preset's or a committed
 * matrix's description makes (seed counts and ranges, rounds and local epochs, clients, clients per round, test
 * images, methods, profiles) agrees with its configuration; and every committed matrix directory still resumes:
 * its stored configuration equals its preset with the overrides it recorded (run.ts refuses a directory whose
 * matrix.json differs, description included).
 */
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { expandMatrix, loadMatrix, parseMatrix, type MatrixConfig } from '../simulations/benchmark/matrix.js';

const PRESETS = path.resolve('simulations/benchmark/presets');
const BENCHMARKS = path.resolve('docs/benchmarks');

/** Full test-set sizes, for a description that names the number of test images of a run on the whole set. */
const TEST_SET: Record<string, number> = { 'fashion-mnist': 10000, 'mnist-embedded': 2000, mnist: 10000 };

const WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];
/** `three` or `3` as a number. */
const count = (w: string): number => (/^\d+$/.test(w) ? Number(w) : WORDS.indexOf(w.toLowerCase()));
/** `10,000` as a number. */
const num = (s: string): number => Number(s.replace(/,/g, ''));

/** Every claim of `description` that disagrees with `m` (empty: none). */
export function disagreements(description: string, m: MatrixConfig): string[] {
  const out: string[] = [];
  const claim = (what: string, said: unknown, is: unknown): void => {
    if (JSON.stringify(said) !== JSON.stringify(is)) out.push(`${what}: the description says ${JSON.stringify(said)}, the configuration has ${JSON.stringify(is)}`);
  };
  const cells = expandMatrix(m);
  const fed = cells[0]!.scenario.federated;
  const dataset = cells[0]!.scenario.dataset;
  for (const x of description.matchAll(/\b(\w+) (?:paired )?seeds?\b/gi)) if (count(x[1]!) >= 0) claim(`"${x[0]}"`, count(x[1]!), m.seeds.length);
  for (const x of description.matchAll(/\bseeds? (\d+)\s*[-–]\s*(\d+)/gi)) {
    const [a, b] = [Number(x[1]), Number(x[2])];
    claim(
      `"${x[0]}"`,
      Array.from({ length: b - a + 1 }, (_, k) => a + k),
      m.seeds,
    );
  }
  for (const x of description.matchAll(/\bR(\d+) E(\d+)\b/g)) claim(`"${x[0]}"`, [Number(x[1]), Number(x[2])], [fed.rounds, fed.localEpochs]);
  for (const x of description.matchAll(/\b(\d+) rounds? × (\d+) local epochs?/g)) claim(`"${x[0]}"`, [Number(x[1]), Number(x[2])], [fed.rounds, fed.localEpochs]);
  for (const x of description.matchAll(/\b([\d,]+) clients\b/g)) claim(`"${x[0]}"`, num(x[1]!), fed.numClients);
  for (const x of description.matchAll(/\b(?:all )?(\d+) per round\b/g)) claim(`"${x[0]}"`, num(x[1]!), Math.max(Math.floor(fed.fraction * fed.numClients), 1));
  for (const x of description.matchAll(/\b([\d,]+) test images\b/g)) {
    const evaluated = fed.evalSubset ?? TEST_SET[dataset];
    if (evaluated !== undefined) claim(`"${x[0]}"`, num(x[1]!), evaluated);
  }
  for (const x of description.matchAll(/\ball (\w+) methods\b/g)) claim(`"${x[0]}"`, count(x[1]!), m.defenses.length);
  if (/default and reference profiles/.test(description)) claim('"default and reference profiles"', ['default', 'reference'], [...new Set(cells.map((c) => c.profile ?? 'default'))].sort());
  if (/\bdefault profile\b/.test(description) && !/reference/.test(description)) claim('"default profile"', ['default'], [...new Set(cells.map((c) => c.profile ?? 'default'))]);
  for (const x of description.matchAll(/\beps ([\d.]+)/g)) claim(`"${x[0]}"`, Number(x[1]), fed.evalEps);
  return out;
}

/** The committed matrix directories. */
const committed = (): string[] => (existsSync(BENCHMARKS) ? readdirSync(BENCHMARKS).filter((d) => existsSync(path.join(BENCHMARKS, d, 'matrix.json'))) : []);

describe('benchmark descriptions agree with what ran', () => {
  it('the claim checker catches a stale seed count, rounds, clients and test images', () => {
    const m = loadMatrix(path.join(PRESETS, 'quick.yaml'));
    expect(disagreements(m.description!, m)).to.deep.equal([]);
    const stale = disagreements('10 clients (5 per round), 8 rounds × 3 local epochs, 500 test images; three seeds', parseMatrix({ ...m, seeds: [1] }));
    expect(stale).to.have.length(1);
    expect(stale[0]).to.match(/"three seeds".*3.*1/);
    expect(disagreements('R20 E1, 100 clients, 2,000 test images, paired seeds 1-5', m)).to.have.length(4);
  });

  it('every preset: its description states only what its configuration runs', () => {
    const files = readdirSync(PRESETS).filter((f) => f.endsWith('.yaml'));
    expect(files).to.include('smoke.yaml');
    for (const f of files) {
      const m = loadMatrix(path.join(PRESETS, f));
      expect(m.description, f).to.be.a('string');
      expect(disagreements(m.description!, m), f).to.deep.equal([]);
      // The comment and the description are not the only record: the file parses as YAML with the same name.
      expect((parseYaml(readFileSync(path.join(PRESETS, f), 'utf8')) as { name: string }).name, f).to.equal(f.replace(/\.yaml$/, ''));
    }
  });

  it('every committed matrix: the description its report prints agrees with the configuration that ran', () => {
    const dirs = committed();
    expect(dirs.length).to.be.greaterThan(2);
    for (const d of dirs) {
      const file = JSON.parse(readFileSync(path.join(BENCHMARKS, d, 'matrix.json'), 'utf8')) as { name: string; description?: string; config: unknown };
      const m = parseMatrix(file.config);
      expect(disagreements(file.description ?? '', m), d).to.deep.equal([]);
      // Cells present are cells of the configuration (a description is checked against the configuration).
      const ids = new Set(expandMatrix(m).map((c) => c.id));
      const cells = existsSync(path.join(BENCHMARKS, d, 'cells')) ? readdirSync(path.join(BENCHMARKS, d, 'cells')) : [];
      for (const c of cells) expect(ids.has(c), `${d}/cells/${c}`).to.equal(true);
    }
  });

  it('every committed matrix resumes: its preset with its recorded overrides gives its stored configuration', () => {
    for (const d of committed()) {
      const file = JSON.parse(readFileSync(path.join(BENCHMARKS, d, 'matrix.json'), 'utf8')) as { name: string; config: unknown; overrides?: string[] };
      const preset = path.join(PRESETS, `${file.name}.yaml`);
      if (!existsSync(preset)) continue;
      expect(JSON.stringify(loadMatrix(preset, file.overrides ?? [])), d).to.equal(JSON.stringify(parseMatrix(file.config)));
    }
  });
});
