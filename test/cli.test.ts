/**
 * The `rfl` command as a user meets it: the real binary (dist/cli/rfl.js) in a child process. Every subcommand's
 * --help exits 0 and lists its options; a mistyped flag is one line with a suggestion and exit code 2; bad values
 * get one named line, no stack unless --debug. The documented option tables equal what each module parses.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { io } from 'socket.io-client';
import { BENCHES, COMMANDS } from '../cli/program.js';
import { BACKENDS, describeOption, type CommandSpec } from '../cli/spec.js';
import { BACKEND_NAMES } from '../shared/compute/backend.js';
import { describeConnectError } from '../client/connect-error.js';
import { closedPort } from './helpers/closed-port.js';

const RFL = path.resolve('dist/cli/rfl.js');

/** Runs the rfl binary; the cpu backend loads fastest, for commands that fail before any compute. */
function rfl(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return rflWith('cpu', ...args);
}

function rflWith(backend: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [RFL, ...args], { encoding: 'utf8', timeout: 120000, env: { ...process.env, RFL_BACKEND: backend } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const all: [string[], CommandSpec][] = [
  ...COMMANDS.flatMap((c) => [[[c.name], c] as [string[], CommandSpec], ...(c.subcommands ?? []).map((s) => [[c.name, s.name], s] as [string[], CommandSpec])]),
  ...BENCHES.map((c) => [['bench', c.name], c] as [string[], CommandSpec]),
];

describe('rfl command line', function () {
  this.timeout(120000);

  it('lists every subcommand in rfl --help and exits 0', () => {
    const r = rfl('--help');
    expect(r.status).to.equal(0);
    for (const c of [...COMMANDS.map((c) => c.name), 'bench']) expect(r.stdout).to.match(new RegExp(`^  ${c} `, 'm'));
    const b = rfl('bench', '--help');
    expect(b.status).to.equal(0);
    for (const c of BENCHES) expect(b.stdout).to.contain(`  ${c.name} `);
  });

  for (const [words, spec] of all) {
    it(`rfl ${words.join(' ')} --help exits 0 and lists each option with its range and default`, () => {
      const r = rfl(...words, '--help');
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.equal('');
      // commander wraps long lines; compare with whitespace folded.
      const help = r.stdout.replace(/\s+/g, ' ');
      for (const [name, doc] of Object.entries(spec.options)) {
        expect(help, name).to.contain(`--${name}`);
        expect(help, name).to.contain(describeOption(doc).replace(/\s+/g, ' '));
      }
    });
  }

  it('answers a mistyped flag with one line, a suggestion and exit code 2', () => {
    const r = rfl('simulate', '--roundz', '3');
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.deep.equal(["UsageError: unknown option '--roundz' (did you mean --rounds?)"]);
    const c = rfl('coordinator', '--tokenz', 'a');
    expect(c.status).to.equal(2);
    expect(c.stderr.trim()).to.equal("UsageError: unknown option '--tokenz' (did you mean --tokens?)");
    // A misspelt scenario field in --set gets the same kind of suggestion.
    const f = rfl('simulate', '--set', 'roundz=3', '--no-progress');
    expect(f.status).to.equal(2);
    expect(
      f.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('compute backend:'))[0],
    ).to.match(/^ConfigError: scenario: unknown field "roundz" \(did you mean rounds\?\); expected one of /);
    const u = rfl('simulat');
    expect(u.status).to.equal(2);
    expect(u.stderr.trim()).to.equal("UsageError: unknown command 'simulat' (did you mean simulate?)");
  });

  it('names the field and the fix of five bad values, in one line without a stack, exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['simulate', '--rounds', '0'], /^UsageError: --rounds 0: expected an integer in \[1, 100000\]$/],
      [['coordinator', '--fraction', '1.5'], /^UsageError: --fraction 1\.5: expected a number in \[0, 1\]$/],
      [['simulate', '--backend', 'cuda'], /^UsageError: --backend cuda: expected one of tfjs-node-gpu, webgpu, tfjs-node, native, wasm, cpu$/],
      [['train', '--adversarial', 'pgd'], /^UsageError: --adversarial pgd: expected one of none, eat, pgd-at, trades$/],
      [['benchmark', '--config', 'no-such-preset'], /^UsageError: --config no-such-preset: no such file, and no preset of that name \(presets: .*quick.*\)$/],
      [['coordinator', '--tokens', 'a', '--aggregation', '{rule'], /^UsageError: --aggregation: not valid JSON .*; expected e\.g\. '\{"rule":"median"\}'$/],
      [['simulate', '--set', 'rounds=-1', '--no-progress'], /^ConfigError: .*rounds.*/],
    ];
    for (const [args, expected] of cases) {
      const r = rfl(...args);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('compute backend:'));
      expect(lines, args.join(' ')).to.have.length(1);
      expect(lines[0], args.join(' ')).to.match(expected);
      expect(r.stderr, args.join(' ')).to.not.match(/^\s+at /m);
      expect(r.status, args.join(' ')).to.equal(2);
    }
  });

  it('shows the stack trace of an error only with --debug', () => {
    const plain = rfl('simulate', '--config', 'no/such/scenario.yaml');
    expect(plain.status).to.equal(2);
    expect(plain.stderr.trim()).to.match(/^ConfigError: cannot read scenario file no\/such\/scenario\.yaml \(ENOENT\); ready scenarios are in simulations\/scenarios\/$/);
    const debug = rfl('simulate', '--config', 'no/such/scenario.yaml', '--debug');
    expect(debug.stderr).to.match(/^\s+at .*loadScenario/m);
  });

  it('documents exactly the options each module parses, with the same defaults', async () => {
    for (const [words, spec] of all) {
      const mod = (await spec.load()) as { OPTIONS: Record<string, { type: string; multiple?: boolean; default?: unknown }> };
      const name = words.join(' ');
      expect(Object.keys(spec.options).sort(), name).to.deep.equal(Object.keys(mod.OPTIONS).sort());
      for (const [key, o] of Object.entries(mod.OPTIONS)) {
        const doc = spec.options[key]!;
        expect(doc.arg === undefined, `${name} --${key}: a flag without a value exactly when boolean`).to.equal(o.type === 'boolean');
        expect(doc.repeatable === true, `${name} --${key}: repeatable exactly when multiple`).to.equal(o.multiple === true);
        // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the defaults are strings, numbers and booleans
        const moduleDefault = o.default === undefined || o.type === 'boolean' || o.multiple === true ? undefined : String(o.default);
        if (doc.default !== undefined) expect(doc.default, `${name} --${key}`).to.equal(moduleDefault);
        else if (moduleDefault !== undefined) expect(doc.defaultNote, `${name} --${key}: the default ${moduleDefault} is documented`).to.be.a('string');
      }
    }
    expect([...BACKENDS]).to.deep.equal([...BACKEND_NAMES]);
  });

  it('names the address and the cause when a client cannot connect', async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    const err = await new Promise<Error>((resolve) => {
      const socket = io(url, { reconnection: false, transports: ['websocket'] });
      socket.on('connect_error', (e: Error) => {
        socket.close();
        resolve(e);
      });
    });
    expect(describeConnectError(url, err)).to.equal(`cannot connect to ${url}: connection refused: nothing listens there (is the coordinator running, on this host and port?) [ECONNREFUSED]`);
    const refused = Object.assign(new Error('unknown token'), { data: {} });
    expect(describeConnectError(url, refused)).to.equal(`the coordinator at ${url} refused the connection: unknown token`);
  });

  it('runs your own model, data and behaviour: rfl simulate --model --data --extension', () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-own-')), 'run');
    const r = rflWith(
      'wasm',
      'simulate',
      '--model',
      './examples/own-model/my-model.js',
      '--data',
      './examples/own-model/my-data',
      '--extension',
      './examples/own-model/my-behavior.js',
      '--set',
      'corrupted={fraction: 0.25, behavior: {kind: noisy-scale, factor: 5, sigma: 0.01}}',
      '--method',
      'fedavg',
      '--clients',
      '4',
      '--rounds',
      '2',
      '--set',
      'fraction=1',
      '--set',
      'localEpochs=1',
      '--set',
      'evalSubset=100',
      '--set',
      'finalAttacks=[clean]',
      '--set',
      'evalAttacks=[clean]',
      '--workers',
      '1',
      '--no-progress',
      '--out',
      out,
    );
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stderr).to.match(
      /scenario quickstart: fedavg on \.\/examples\/own-model\/my-model\.js with \.\/examples\/own-model\/my-data, 4 clients, 1 per round, 2 rounds, secure aggregation \(mean\), 25 % noisy-scale/,
    );
    expect(r.stderr).to.match(/^compute backend: wasm/m);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { completedRounds: number; final: { accuracy: { clean: number } } };
    expect(results.completedRounds).to.equal(2);
    expect(results.final.accuracy.clean).to.be.within(0, 1);
    // A model path that does not exist is one named line, exit code 2.
    const bad = rfl('simulate', '--model', './examples/own-model/no-such-model.js', '--rounds', '1', '--no-progress', '--out', `${out}-bad`);
    expect(bad.status).to.equal(2);
    expect(
      bad.stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('compute backend:')),
    ).to.have.length(1);
    expect(bad.stderr).to.match(/^ConfigError: .*model.*no-such-model\.js/m);
  });

  it('leaves the bin executable after a build, for npx rfl', () => {
    // `npm test` builds first (pretest), through the same stamp step as `npm run build`.
    expect(statSync(RFL).mode & 0o111).to.equal(0o111);
  });

  it('rebuilds dist only when a source changed (scripts/ensure-built.mjs)', () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'rfl-ensure-'));
    mkdirSync(path.join(root, 'src'));
    writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ include: ['src'] }));
    writeFileSync(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    const script = path.resolve('scripts/ensure-built.mjs');
    const check = () => spawnSync(process.execPath, [script, '--check', '--root', root]).status;
    expect(check()).to.equal(1); // never built
    expect(spawnSync(process.execPath, [script, '--stamp', '--root', root]).status).to.equal(0);
    expect(check()).to.equal(0);
    utimesSync(path.join(root, 'src', 'a.ts'), new Date(2030, 0, 1), new Date(2030, 0, 1));
    expect(check()).to.equal(1); // a source changed
    expect(spawnSync(process.execPath, [script, '--stamp', '--root', root]).status).to.equal(0);
    writeFileSync(path.join(root, 'src', 'b.ts'), 'export const b = 1;\n');
    expect(check()).to.equal(1); // a source was added
  });
});
