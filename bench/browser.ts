/**
 * `rfl bench browser [--rounds N] [--count N] [--repeat N] [--out FILE]`
 *
 * The browser client against the Node client: the same secure fed-bva federation (5 clients, cnn-mnist on the
 * seeded synthetic demo split, wasm backend, half-up rounding) run with 5 Node clients and with 5 browser clients
 * in Debian's chromium (playwright-core, /usr/bin/chromium or RFL_CHROMIUM), on the same machine.
 *
 * `--repeat N` runs N pairs, alternating which of the two goes first (Node then browser, browser then Node, …), so
 * that a drift of the machine's speed during the benchmark weighs on both alike. Round 1 of every run is warm-up
 * (the first kernels compiled, the first allocations) and is left out: a run's figure is the median of its rounds
 * 2 to N, the benchmark's the median over its runs, and the ratio the median of the pairs' ratios (the issue asks
 * ≤ 2×). Also the gzipped size of the join bundle without the wasm binaries (the issue asks ≤ 2 MB). Prints a
 * table, writes every run's and every round's figures as JSON.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
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
  repeat: { type: 'string', default: '3' },
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
/** Rounds left out of every run's median: round 1 is warm-up. */
const WARM_UP_ROUNDS = 1;

type Kind = 'node' | 'browser';

/** One federation run: every round's figures, and the medians over its rounds after warm-up. */
export interface BenchRun {
  /** The pair, from 1. */
  pair: number;
  kind: Kind;
  /** 1 when this run went first in its pair, 2 when second. */
  position: 1 | 2;
  /** Median milliseconds per round (the steps' sum) over rounds after warm-up that completed. */
  roundMs: number;
  /** Median milliseconds of the training step, over the same rounds. */
  trainMs: number;
  /** The rounds the medians are over. */
  timedRounds: number[];
  rounds: { round: number; status: string; totalMs: number; ms: Record<string, number> }[];
}

/** A run's figures from its rounds: round 1 and any round that did not complete are left out of the medians. */
export function summariseRun(pair: number, kind: Kind, position: 1 | 2, rs: readonly RoundMetrics[]): BenchRun {
  const timed = rs.filter((m) => m.round > WARM_UP_ROUNDS && m.status === 'completed');
  if (timed.length === 0) throw new Error(`${kind} run of pair ${pair}: no completed round after the warm-up round (statuses ${rs.map((m) => m.status).join(', ')})`);
  return {
    pair,
    kind,
    position,
    roundMs: median(timed.map(roundMs)),
    trainMs: median(timed.map((m) => m.ms['train'] ?? 0)),
    timedRounds: timed.map((m) => m.round),
    rounds: rs.map((m) => ({ round: m.round, status: m.status, totalMs: roundMs(m), ms: { ...m.ms } })),
  };
}

/** One federation's rounds with Node or browser clients. */
async function federation(kind: Kind, rounds: number, count: number): Promise<RoundMetrics[]> {
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
  // A run directory of its own, removed afterwards (the figures go to --out).
  const runDir = mkdtempSync(path.join(os.tmpdir(), `rfl-bench-browser-${kind}-`));
  const coordinator = new Coordinator({ federated, data, tokens: new Set(['bench']), enrolment: new Map(), runDir, log: () => undefined });
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
    rmSync(runDir, { recursive: true, force: true });
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const rounds = intFlag('rounds', values.rounds, WARM_UP_ROUNDS + 1);
  const count = intFlag('count', values.count, 50);
  const repeat = intFlag('repeat', values.repeat, 1);
  await initBackend({ backend: 'wasm' });
  console.log(`secure fed-bva, ${CLIENTS} clients, cnn-mnist, ${count} synthetic images, ${rounds} rounds (round 1 left out as warm-up), ${repeat} pair${repeat === 1 ? '' : 's'} of runs`);
  const runs: BenchRun[] = [];
  for (let pair = 0; pair < repeat; pair++) {
    const order: Kind[] = pair % 2 === 0 ? ['node', 'browser'] : ['browser', 'node'];
    for (const [i, kind] of order.entries()) {
      const run = summariseRun(pair + 1, kind, i === 0 ? 1 : 2, await federation(kind, rounds, count));
      runs.push(run);
      console.log(`  pair ${pair + 1}, ${kind.padEnd(7)} clients: median round ${run.roundMs.toFixed(0)} ms, of it training ${run.trainMs.toFixed(0)} ms (rounds ${run.timedRounds.join(', ')})`);
    }
  }
  const of = (kind: Kind, pair: number): BenchRun => runs.find((r) => r.kind === kind && r.pair === pair)!;
  const pairs = Array.from({ length: repeat }, (_, k) => {
    const n = of('node', k + 1);
    const b = of('browser', k + 1);
    return { pair: k + 1, first: n.position === 1 ? 'node' : 'browser', ratio: { round: b.roundMs / n.roundMs, train: b.trainMs / n.trainMs } };
  });
  const summary = (kind: Kind) => {
    const mine = runs.filter((r) => r.kind === kind);
    return { roundMs: median(mine.map((r) => r.roundMs)), trainMs: median(mine.map((r) => r.trainMs)), perRun: mine.map((r) => ({ roundMs: r.roundMs, trainMs: r.trainMs })) };
  };
  const n = summary('node');
  const b = summary('browser');
  const bundle = readFileSync(path.join(BROWSER_DIR, 'join.js'));
  const gz = gzipSync(bundle, { level: 9 }).length;
  const result = {
    when: new Date().toISOString(),
    config: { clients: CLIENTS, rounds, count, repeat, warmUpRoundsLeftOut: WARM_UP_ROUNDS, model: 'cnn-mnist', method: 'fed-bva', backend: 'wasm' },
    node: n,
    browser: b,
    /** The median over the pairs of browser / Node, per round and for the training step. */
    ratio: { round: median(pairs.map((p) => p.ratio.round)), train: median(pairs.map((p) => p.ratio.train)) },
    pairs,
    runs,
    bundle: { file: 'dist/browser/join.js', bytes: bundle.length, gzipBytes: gz },
  };
  console.log(`median over the runs (each run's median over rounds ${WARM_UP_ROUNDS + 1}–${rounds}):`);
  console.log(`  Node clients:    round ${n.roundMs.toFixed(0)} ms, of it training ${n.trainMs.toFixed(0)} ms`);
  console.log(`  browser clients: round ${b.roundMs.toFixed(0)} ms, of it training ${b.trainMs.toFixed(0)} ms`);
  console.log(
    `  ratio browser / Node, median over ${repeat} pair${repeat === 1 ? '' : 's'}: round ${result.ratio.round.toFixed(2)}× (pairs: ${pairs.map((p) => p.ratio.round.toFixed(2)).join(', ')}), training ${result.ratio.train.toFixed(2)}× (target ≤ 2×)`,
  );
  console.log(`join bundle without wasm: ${bundle.length} bytes, ${gz} gzipped (${(gz / 2 ** 20).toFixed(2)} MiB; target ≤ 2 MB)`);
  mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
  writeFileSync(values.out, JSON.stringify(result, null, 2) + '\n');
}
