/**
 * The `rfl` command as a user meets it: the real binary (dist/cli/rfl.js) in a child process. Every subcommand's
 * --help exits 0 and lists its options, the required ones marked; a mistyped flag is one line with a suggestion
 * and exit code 2; bad values get one named line (the whole of stderr: the compute backend's line comes only once
 * the arguments are checked), no stack unless --debug. The documented option tables equal what each module parses.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Server } from 'socket.io';
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

function rflWith(backend: string | undefined, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, RFL_BACKEND: backend };
  if (backend === undefined) delete env['RFL_BACKEND'];
  delete env['RFL_VERBOSE'];
  const r = spawnSync(process.execPath, [RFL, ...args], { encoding: 'utf8', timeout: 120000, env });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts that `r` failed with exit code 2 and that its whole stderr is the one line `expected` matches. */
function expectOneLine(r: { status: number | null; stderr: string }, expected: RegExp, what: string): void {
  const lines = r.stderr.replace(/\n$/, '').split('\n');
  expect(lines, `${what}: the whole stderr is one line`).to.have.length(1);
  expect(lines[0], what).to.match(expected);
  expect(r.status, what).to.equal(2);
}

/** The options marked required in help, as `command words --option`; each is refused when left out (below). */
const REQUIRED = ['benchmark --config', 'benchmark worker --queue', 'client --server', 'client-host --token', 'client-host --url', 'coordinator enrol --ids'];

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
    expectOneLine(rfl('simulate', '--set', 'roundz=3', '--no-progress'), /^ConfigError: scenario: unknown field "roundz" \(did you mean rounds\?\); expected one of /, '--set roundz=3');
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
      [['simulate', '--url', 'http://127.0.0.1:9'], /^UsageError: --url: joining an external coordinator needs --token \(a client token it accepts\)$/],
    ];
    for (const [args, expected] of cases) expectOneLine(rfl(...args), expected, args.join(' '));
  });

  it("checks the coordinator's configuration before the compute backend loads: one line, no backend line", () => {
    const cases: [string[], RegExp][] = [
      [['coordinator', '--tokens', 'a', '--aggregation', '{x'], /^UsageError: --aggregation: not valid JSON /],
      [['coordinator', '--tokens', 'a', '--aggregation', '{"rule":"nope"}'], /^ConfigError: aggregation\.rule = "nope" is invalid; expected one of 'mean', 'median'/],
      [['coordinator', '--tokens', 'a', '--aggregation', '{"rule":"median"}'], /^ConfigError: aggregation\.rule = 'median' cannot run with secure = true: .*Set secure: false/],
      [['coordinator', '--tokens', 'a', '--method', 'nope'], /^ConfigError: config: method = "nope" is invalid; expected one of fedavg, /],
    ];
    for (const [args, expected] of cases) expectOneLine(rfl(...args, '--run-dir', path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-coord-')), 'run')), expected, args.join(' '));
  });

  it('says what a stray word or a scenario field given as an option was meant as', () => {
    const cases: [string[], RegExp][] = [
      [['simulate', 'extra'], /^UsageError: unexpected argument 'extra': rfl simulate takes options only \(rfl simulate --help lists them\)$/],
      [['simulate', 'rounds=3'], /^UsageError: unexpected argument 'rounds=3': did you mean --set rounds=3\?$/],
      [['simulate', 'my-scenario.yaml'], /^UsageError: unexpected argument 'my-scenario\.yaml': did you mean --config my-scenario\.yaml\?$/],
      [['coordinator', 'enrol', 'alice'], /^UsageError: unexpected argument 'alice': rfl coordinator enrol takes options only \(rfl coordinator enrol --help lists them\)$/],
      [['coordinator', 'enrl', '--ids', 'a'], /^UsageError: unknown command 'coordinator enrl' \(did you mean coordinator enrol\?\)$/],
      [['benchmark', 'wroker', '--queue', 'redis://127.0.0.1:9'], /^UsageError: unknown command 'benchmark wroker' \(did you mean benchmark worker\?\)$/],
      [['start', '--rounds', '3'], /^UsageError: unknown option '--rounds': rfl start takes scenario fields through --set \(did you mean --set rounds=3\?\)$/],
      [['start', '--local-epochs=2'], /^UsageError: unknown option '--local-epochs': rfl start takes scenario fields through --set \(did you mean --set localEpochs=2\?\)$/],
      [['simulate', '--fraction', '0.5'], /^UsageError: unknown option '--fraction': rfl simulate takes scenario fields through --set \(did you mean --set fraction=0\.5\?\)$/],
      [['benchmark', '--rounds', '30'], /^UsageError: unknown option '--rounds': rfl benchmark takes scenario fields through --set \(did you mean --set base\.rounds=30\?\)$/],
      // Not a scenario field: commander's own answer.
      [['start', '--colour', 'red'], /^UsageError: unknown option '--colour'$/],
    ];
    for (const [args, expected] of cases) expectOneLine(rfl(...args), expected, args.join(' '));
  });

  it('refuses a coordinator address that is not a URL at once, before connecting', () => {
    for (const [args, flag] of [
      [['client', '--server', 'notaurl', '--embedded', '--partition', '0'], '--server notaurl'],
      [['client', '--server', 'localhost:8080', '--embedded', '--partition', '0'], '--server localhost:8080'],
      [['client-host', '--url', 'ftp://x', '--token', 't'], '--url ftp://x'],
    ] as const) {
      const r = rfl(...args);
      expectOneLine(r, new RegExp(`^UsageError: ${flag.replace(/[.]/g, '\\.')}: not a URL: expected http://host:port or https://host:port, e\\.g\\. http://localhost:8080$`), args.join(' '));
    }
  });

  it('marks the required options in help, and each is refused, named, when left out', () => {
    const marked = all.flatMap(([words, spec]) =>
      Object.entries(spec.options)
        .filter(([, doc]) => doc.required === true)
        .map(([name]) => `${words.join(' ')} --${name}`),
    );
    expect(marked.sort()).to.deep.equal([...REQUIRED].sort());
    for (const entry of REQUIRED) {
      const words = entry.split(' --')[0]!.split(' ');
      const flag = `--${entry.split(' --')[1]!}`;
      // The option's entry in help: from its line to the next option's.
      const help = rfl(...words, '--help').stdout.split(/\n(?= {2}-)/);
      const option = help.find((e) => e.startsWith(`  ${flag} `))?.replace(/\s+/g, ' ');
      expect(option, entry).to.match(/\(required[;)]/);
    }
    // Left out: each command names the missing option in its one line.
    const missing: [string[], string][] = [
      [['benchmark'], '--config'],
      [['benchmark', 'worker'], '--queue'],
      [['client', '--embedded', '--partition', '0'], '--server'],
      [['client-host', '--token', 't'], '--url'],
      [['client-host', '--url', 'http://127.0.0.1:9'], '--token'],
      [['coordinator', 'enrol'], '--ids'],
    ];
    for (const [args, flag] of missing) expectOneLine(rfl(...args), new RegExp(`^UsageError: ${flag}\\b`), args.join(' '));
  });

  it('prints the short backend line by default and the long form, every rejected candidate with its error, under --verbose', async () => {
    // A coordinator whose port is taken loads the backend, prints its line, then stops: the quickest way through.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    try {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-verbose-'));
      const args = (k: number): string[] => ['coordinator', '--tokens', 'a', '--port', port, '--run-dir', path.join(dir, `run${k}`)];
      const short = rflWith(undefined, ...args(0));
      const long = rflWith(undefined, '--verbose', ...args(1));
      const after = rflWith(undefined, ...args(2), '--verbose');
      for (const r of [short, long, after]) {
        expect(r.status, r.stderr).to.equal(2);
        expect(r.stderr.split('\n')[1], r.stderr).to.match(/^ListenError: cannot listen on 127\.0\.0\.1:\d+: port \d+ is in use/);
      }
      const shortLine = short.stderr.split('\n')[0]!;
      const longLine = long.stderr.split('\n')[0]!;
      const chosen = /^compute backend: ([\w-]+)/.exec(shortLine)?.[1];
      expect(chosen, shortLine).to.be.a('string');
      expect(longLine.startsWith(`compute backend: ${chosen}`), longLine).to.equal(true);
      // --verbose after the subcommand works the same.
      expect(after.stderr.split('\n')[0]).to.equal(longLine);
      if (chosen !== 'tfjs-node-gpu') {
        // Every candidate before the chosen one is named with the error that ruled it out, which the short line omits.
        expect(longLine).to.match(/ — first that loaded after .*\(tfjs-node-gpu: .+\)$/);
        expect(longLine.length).to.be.greaterThan(shortLine.length);
        expect(shortLine).to.not.include('tfjs-node-gpu: ');
      }
    } finally {
      taken.close();
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

  it('rfl client refused with a malformed auth:refused prints one named line and exits 2, no stack', async () => {
    // A stand-in coordinator that refuses every identity with a notice that is not one: null, or fields of the
    // wrong types. The client must not read fields off it (a null used to end it with a TypeError).
    for (const notice of [null, { code: 42, message: ['not', 'a', 'string'] }]) {
      const http = createHttpServer();
      const server = new Server(http, { transports: ['websocket'] });
      server.on('connection', (socket) => socket.emit('auth:refused', notice));
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-refused-'));
      try {
        const args = [RFL, 'client', '--server', url, '--token', 't', '--embedded', '--partition', '0', '--id', 'c0', '--identity-file', path.join(dir, 'c0.key')];
        const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RFL_BACKEND: 'cpu', RFL_VERBOSE: '' } });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        const killer = setTimeout(() => child.kill('SIGKILL'), 90000);
        const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
        clearTimeout(killer);
        const what = `${JSON.stringify(notice)}:\n${stderr}`;
        const lines = stderr.replace(/\n$/, '').split('\n');
        expect(
          lines.filter((l) => /^\s+at /.test(l)),
          what,
        ).to.deep.equal([]);
        expect(lines.at(-1), what).to.equal(`RefusedError: the coordinator at ${url} refused client c0's identity proof: refused, with a malformed notice (no reason given)`);
        expect(
          lines.filter((l) => /Error\b/.test(l)),
          what,
        ).to.have.length(1);
        expect(code, what).to.equal(2);
      } finally {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
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
      /scenario quickstart: fedavg on \.\/examples\/own-model\/my-model\.js with \.\/examples\/own-model\/my-data, 4 clients, 4 per round, 2 rounds, secure aggregation \(mean\), 25 % noisy-scale/,
    );
    expect(r.stderr).to.match(/^compute backend: wasm/m);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { completedRounds: number; final: { accuracy: { clean: number } } };
    expect(results.completedRounds).to.equal(2);
    expect(results.final.accuracy.clean).to.be.within(0, 1);
    // A model path that does not exist is one named line, exit code 2.
    expectOneLine(
      rfl('simulate', '--model', './examples/own-model/no-such-model.js', '--rounds', '1', '--no-progress', '--out', `${out}-bad`),
      /^ConfigError: .*model.*no-such-model\.js/,
      'a model path that does not exist',
    );
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
