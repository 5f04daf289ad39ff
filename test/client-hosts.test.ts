/**
 * Virtual clients on several hosts: `rfl simulate --hosts N` keeps the coordinator in one process
 * and N `rfl client-host` processes run the virtual clients, each with its own pool. A seeded secure fed-bva
 * federation with label-flipping clients (drawn per round from the cohort, which the hosts learn before each round)
 * ends with the same final weights, round records and accuracy on two hosts, on one host, and in one process. A host
 * with a wrong token is refused in one line.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readCheckpoint } from '../server/run-store.js';
import { closedPort } from './helpers/closed-port.js';
import { jsonlSansTiming } from './helpers/sans-timing.js';

const SCENARIO = {
  name: 'hosts-e2e',
  dataset: 'synthetic',
  model: 'linear',
  method: 'fed-bva',
  numClients: 7,
  fraction: 0.6,
  rounds: 3,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.1,
  sharedSetSize: 8,
  evalEvery: 3,
  evalAttacks: ['clean'],
  finalAttacks: ['clean', 'fgsm'],
  workers: 1,
  secure: true,
  corrupted: { fraction: 0.25, behavior: { kind: 'label-flip' } },
};
const RFL = path.resolve('dist/cli/rfl.js');

function rfl(args: string[], cwd: string): { proc: ChildProcess; err: () => string; exit: Promise<number | null>; line: (re: RegExp) => Promise<void> } {
  const proc = spawn(process.execPath, [RFL, ...args], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RFL_BACKEND: 'wasm' } });
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  proc.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const w of waiters.splice(0))
      if (w.re.test(err)) w.resolve();
      else waiters.push(w);
  });
  return {
    proc,
    err: () => err,
    exit: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
    line: (re) => (re.test(err) ? Promise.resolve() : new Promise((resolve) => waiters.push({ re, resolve }))),
  };
}

describe('virtual clients on several client hosts, one coordinator', function () {
  this.timeout(240000);
  let dir: string;
  let embedded: { weights: Float32Array; rounds: unknown[]; accuracy: unknown };
  const children: ChildProcess[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-hosts-'));
    writeFileSync(path.join(dir, 'scenario.json'), JSON.stringify(SCENARIO));
    // One process, as a user runs it (a fresh process: rounds.jsonl records the live tensor count of the process).
    const one = rfl(['simulate', '--config', 'scenario.json', '--out', 'embedded', '--no-progress'], dir);
    expect(await one.exit, one.err()).to.equal(0);
    embedded = {
      weights: readCheckpoint(path.join(dir, 'embedded', 'checkpoint.bin')).weights,
      rounds: jsonlSansTiming(readFileSync(path.join(dir, 'embedded', 'rounds.jsonl'), 'utf8')),
      accuracy: (JSON.parse(readFileSync(path.join(dir, 'embedded', 'results.json'), 'utf8')) as { final: { accuracy: unknown } }).final.accuracy,
    };
  });
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** Runs the scenario with `hosts` client hosts; returns the run directory. */
  const distributed = async (hosts: number, before?: (url: string) => Promise<void>): Promise<string> => {
    const port = await closedPort();
    const out = `hosts${hosts}`;
    const sim = rfl(['simulate', '--config', 'scenario.json', '--out', out, '--no-progress', '--hosts', String(hosts), '--port', String(port), '--token', 'host-token'], dir);
    children.push(sim.proc);
    await sim.line(new RegExp(`waiting for ${hosts} client hosts?; on each machine run: rfl client-host --url http://127\\.0\\.0\\.1:${port} --token host-token`));
    const url = `http://127.0.0.1:${port}`;
    await before?.(url);
    const clientHosts = Array.from({ length: hosts }, (_, k) => rfl(['client-host', '--url', url, '--token', 'host-token', '--name', `h${k + 1}`], dir));
    children.push(...clientHosts.map((h) => h.proc));
    const codes = await Promise.all([sim.exit, ...clientHosts.map((h) => h.exit)]);
    expect(codes, [sim.err(), ...clientHosts.map((h) => h.err())].join('\n---\n').slice(-3000)).to.deep.equal([0, ...clientHosts.map(() => 0)]);
    // Shares go to hosts in the order they arrive: each share once, share k holding clients k, k + n, ….
    const shares = clientHosts.map((h, k) => {
      const m = new RegExp(`client host h${k + 1}: share (\\d+) of ${hosts} of scenario hosts-e2e: connecting (\\d+) virtual clients`).exec(h.err());
      expect(m, h.err()).to.not.equal(null);
      return [Number(m![1]), Number(m![2])];
    });
    expect(shares.sort((a, b) => a[0]! - b[0]!)).to.deep.equal(Array.from({ length: hosts }, (_, k) => [k + 1, [0, 1, 2, 3, 4, 5, 6].filter((c) => c % hosts === k).length]));
    return path.join(dir, out);
  };

  const expectSameAsEmbedded = (run: string): void => {
    const w = readCheckpoint(path.join(run, 'checkpoint.bin')).weights;
    expect(Buffer.from(w.buffer, w.byteOffset, w.byteLength).equals(Buffer.from(embedded.weights.buffer, embedded.weights.byteOffset, embedded.weights.byteLength)), 'final weights').to.equal(true);
    expect(jsonlSansTiming(readFileSync(path.join(run, 'rounds.jsonl'), 'utf8'))).to.deep.equal(embedded.rounds);
    expect((JSON.parse(readFileSync(path.join(run, 'results.json'), 'utf8')) as { final: { accuracy: unknown } }).final.accuracy).to.deep.equal(embedded.accuracy);
  };

  it('two client hosts give the weights of one process, bit for bit', async () => {
    const run = await distributed(2);
    expectSameAsEmbedded(run);
    // Every round drew a corrupted member, so the hosts' plans followed the cohorts.
    expect((embedded.rounds as { corrupted: string[] }[]).every((r) => r.corrupted.length === 1)).to.equal(true);
  });

  it('one client host gives them too; a host with a wrong token is refused in one line', async () => {
    const run = await distributed(1, async (url) => {
      const bad = rfl(['client-host', '--url', url, '--token', 'wrong'], dir);
      expect(await bad.exit).to.equal(1);
      expect(bad.err().trim()).to.equal(`Error: the coordinator at ${url} refused the connection: refused: wrong token`);
    });
    expectSameAsEmbedded(run);
  });
});
