/**
 * `rfl bench browser [--rounds N] [--count N] [--out FILE]`
 *
 * The browser client against the Node client: the same secure fed-bva federation (5 clients, cnn-mnist on the
 * seeded synthetic demo split, wasm backend, half-up rounding) run once with 5 Node clients and once with 5
 * browser clients in Debian's chromium (playwright-core, /usr/bin/chromium or RFL_CHROMIUM), on the same machine.
 * Reports the median round time and its training share for each, their ratio (the issue asks ≤ 2×), and the
 * gzipped size of the join bundle without the wasm binaries (the issue asks ≤ 2 MB). Prints a table, writes JSON.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import { Coordinator } from '../server/coordinator.js';
import { BROWSER_DIR } from '../server/browser-pages.js';
import { connect, type ClientSession } from '../client/session.js';
import { LocalTrainer } from '../client/trainer.js';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { partition, sampleSharedSet } from '../shared/data/partition.js';
import { clientIdOf } from '../shared/federated/secure-model.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { intFlag } from '../shared/util/flags.js';
import type { RoundMetrics } from '../server/coordinator.js';

/** The options, in node:util parseArgs form (cli/commands/bench.ts documents them). */
export const OPTIONS = {
  rounds: { type: 'string', default: '3' },
  count: { type: 'string', default: '600' },
  out: { type: 'string', default: 'runs/bench-browser.json' },
} satisfies ParseArgsOptionsConfig;

const CLIENTS = 5;
const DATA_SEED = 3;
const SPLIT_SEED = 5;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const roundMs = (m: RoundMetrics): number => Object.entries(m.ms).reduce((a, [k, v]) => (k === 'total' ? a : a + v), 0);

/** One federation's rounds with Node or browser clients. */
async function federation(kind: 'node' | 'browser', rounds: number, count: number): Promise<RoundMetrics[]> {
  const data = makeSyntheticDataset({ count, seed: DATA_SEED });
  const federated = {
    numClients: CLIENTS,
    fraction: 1,
    rounds,
    localEpochs: 1,
    batchSize: 32,
    lr: 0.05,
    sharedSetSize: 8,
    evalEvery: rounds,
    evalAttacks: ['clean'],
    finalAttacks: ['clean'],
    seed: SPLIT_SEED,
    method: 'fed-bva',
  };
  const ids = Array.from({ length: CLIENTS }, (_, k) => clientIdOf(k));
  const coordinator = new Coordinator({ federated, data, tokens: new Set(['bench']), enrolment: new Map(), runDir: path.join('runs', `bench-browser-${kind}-${Date.now()}`), log: () => undefined });
  const url = `http://127.0.0.1:${await coordinator.listen(0)}`;
  const sessions: ClientSession[] = [];
  const browser = kind === 'browser' ? await chromium.launch({ executablePath: process.env['RFL_CHROMIUM'] ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] }) : undefined;
  try {
    if (browser === undefined) {
      const shared = sampleSharedSet(data.train.count, 8, SPLIT_SEED);
      const parts = partition(data.train.labels, { kind: 'iid' }, CLIENTS, SPLIT_SEED, shared);
      for (let k = 0; k < CLIENTS; k++) {
        const identity = identityKeyPair();
        coordinator.enrol(ids[k]!, identity.publicKey);
        const s = connect(url, { clientId: ids[k]!, token: 'bench', identity, trainer: new LocalTrainer(data.train, parts[k]!), rounding: 'half-up', reconnection: false });
        sessions.push(s);
        await s.ready;
      }
    } else {
      for (let k = 0; k < CLIENTS; k++) {
        const page = await (await browser.newContext()).newPage();
        await page.goto(`${url}/join`);
        await page.waitForFunction(() => (globalThis as unknown as { rfl?: unknown }).rfl !== undefined);
        const pk = await page.evaluate((id) => (globalThis as unknown as { rfl: { identity(id: string): Promise<string> } }).rfl.identity(id), ids[k]!);
        coordinator.enrol(ids[k]!, Uint8Array.from(Buffer.from(pk, 'hex')));
        const q = new URLSearchParams({
          auto: '1',
          token: 'bench',
          clientId: ids[k]!,
          backend: 'wasm',
          rounding: 'half-up',
          part: String(k),
          clients: String(CLIENTS),
          count: String(count),
          seed: String(DATA_SEED),
          splitSeed: String(SPLIT_SEED),
          sharedSetSize: '8',
        });
        await page.goto(`${url}/join?${q.toString()}`);
        await page.waitForFunction(() => (globalThis as unknown as { rfl: { state: { status: string } } }).rfl.state.status === 'connected', undefined, { timeout: 120000 });
      }
    }
    const out: RoundMetrics[] = [];
    await coordinator.run({ onRound: (m) => void out.push(m) });
    return out;
  } finally {
    for (const s of sessions) s.close();
    await browser?.close();
    await coordinator.close();
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const rounds = intFlag('rounds', values.rounds, 1);
  const count = intFlag('count', values.count, 50);
  await initBackend({ backend: 'wasm' });
  const node = await federation('node', rounds, count);
  const web = await federation('browser', rounds, count);
  const summary = (rs: RoundMetrics[]) => ({
    roundMs: median(rs.map(roundMs)),
    trainMs: median(rs.map((m) => m.ms['train'] ?? 0)),
    rounds: rs.map((m) => ({ round: m.round, status: m.status, ms: m.ms })),
  });
  const n = summary(node);
  const b = summary(web);
  const bundle = readFileSync(path.join(BROWSER_DIR, 'join.js'));
  const gz = gzipSync(bundle, { level: 9 }).length;
  const result = {
    when: new Date().toISOString(),
    config: { clients: CLIENTS, rounds, count, model: 'cnn-mnist', method: 'fed-bva', backend: 'wasm' },
    node: n,
    browser: b,
    ratio: { round: b.roundMs / n.roundMs, train: b.trainMs / n.trainMs },
    bundle: { file: 'dist/browser/join.js', bytes: bundle.length, gzipBytes: gz },
  };
  console.log(`secure fed-bva, ${CLIENTS} clients, cnn-mnist, ${count} synthetic images, ${rounds} rounds (median per round)`);
  console.log(`  Node clients:    round ${n.roundMs.toFixed(0)} ms, of it training ${n.trainMs.toFixed(0)} ms`);
  console.log(`  browser clients: round ${b.roundMs.toFixed(0)} ms, of it training ${b.trainMs.toFixed(0)} ms`);
  console.log(`  ratio browser / Node: round ${result.ratio.round.toFixed(2)}×, training ${result.ratio.train.toFixed(2)}× (target ≤ 2×)`);
  console.log(`join bundle without wasm: ${bundle.length} bytes, ${gz} gzipped (${(gz / 2 ** 20).toFixed(2)} MiB; target ≤ 2 MB)`);
  mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
}
