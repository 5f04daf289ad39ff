/**
 * `rfl bench queue [--out FILE] [--cells N] [--rounds N] [--local-epochs N] [--embedded] [--repeat N] [--no-warm-up]` (`npm run bench:queue`)
 *
 * Wall time of one distributed benchmark matrix: N small cells (default 16: fedavg on the embedded
 * digits with cnn-mnist, 4 clients, plaintext, seeds 1…N) submitted through a BullMQ queue in a local redis-server
 * (started here on a free loopback port, without persistence, and stopped at the end), run by 1 worker process, then
 * by 2. Each worker runs a cell's simulation on one thread (`--workers 1`), so on a 2-core machine two workers can use
 * both cores. The workers are started, warmed up (a tiny simulation on their cell thread, unless `--no-warm-up`) and
 * idle before the clock starts, as long-lived workers would be; the time is
 * the submitter's, from the first job queued to the last cell written. With `--embedded`, the same matrix also runs
 * in this process without a queue (one thread per simulation), for the queue's overhead.
 *
 * Prints both wall times, their ratio and whether it meets the bar (≤ 0.6), the load average before and after each
 * run and the CPU other processes used meanwhile (the machine may be shared), and each process's CPU seconds;
 * checks that every run gave the same accuracies; writes everything as JSON. `--repeat N` runs N alternating pairs
 * and checks the bar on the median ratio.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend } from '../shared/compute/backend.js';
import { intFlag } from '../shared/util/flags.js';
import { parseMatrix, type MatrixConfig } from '../simulations/benchmark/matrix.js';
import { runMatrix } from '../simulations/benchmark/run.js';
import { parseRedisTarget } from '../simulations/benchmark/queue/redis-target.js';
import { submitMatrix } from '../simulations/benchmark/queue/submit.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/bench.ts). */
export const OPTIONS = {
  out: { type: 'string', default: 'runs/bench-queue.json' },
  cells: { type: 'string', default: '16' },
  rounds: { type: 'string', default: '2' },
  'local-epochs': { type: 'string', default: '1' },
  embedded: { type: 'boolean', default: false },
  repeat: { type: 'string', default: '1' },
  'no-warm-up': { type: 'boolean', default: false },
} satisfies ParseArgsOptionsConfig;

/** The bar (≤ 0.6): 2 workers take at most this fraction of 1 worker's wall time. */
export const BAR = 0.6;

const here = path.dirname(fileURLToPath(import.meta.url));
const RFL = path.resolve(here, '../cli/rfl.js');

/** The benchmark's matrix: `cells` seeds of one small plaintext fedavg cell. */
export function benchMatrix(cells: number, rounds: number, localEpochs: number): MatrixConfig {
  return parseMatrix({
    name: 'bench-queue',
    description: `${cells} small cells for the queue benchmark: fedavg (plaintext) on the embedded digits, cnn-mnist, 4 clients, ${rounds} rounds × ${localEpochs} local epoch(s)`,
    base: {
      dataset: 'mnist-embedded',
      model: 'cnn-mnist',
      numClients: 4,
      fraction: 1,
      rounds,
      localEpochs,
      batchSize: 64,
      lr: 0.05,
      partition: { kind: 'iid' },
      sharedSetSize: 64,
      evalEvery: rounds,
      evalSubset: 200,
      evalAttacks: ['clean'],
      finalAttacks: ['clean'],
      workers: 1,
    },
    defenses: [{ name: 'fedavg', method: 'fedavg', secure: false }],
    threats: [{ name: 'none' }],
    seeds: Array.from({ length: cells }, (_, k) => k + 1),
  });
}

/** A port free on loopback a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts redis-server on loopback without persistence; resolves once it accepts connections. */
async function startRedis(dir: string): Promise<{ port: number; proc: ChildProcess }> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('bench queue needs redis-server: apt-get install -y redis-server (docs/distributed.md)');
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', ''], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) resolve();
    });
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out.slice(-300)}`)));
  });
  return { port, proc };
}

/** CPU seconds (user + system) a live process has used so far, from /proc; null where there is no /proc. */
function cpuSeconds(pid: number): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of the whole machine so far (all cores, from /proc/stat); null where there is no /proc. */
function machineBusySeconds(): number | null {
  try {
    const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
    const j = f.map(Number);
    // user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    return (j[0]! + j[1]! + j[2]! + j[5]! + j[6]! + j[7]!) / 100;
  } catch {
    return null;
  }
}

/** Starts `n` worker processes on the queue and waits until each takes cells. */
async function startWorkers(n: number, url: string, queueName: string, warmUp: boolean): Promise<ChildProcess[]> {
  return Promise.all(
    Array.from({ length: n }, (_, k) => {
      const args = [RFL, 'benchmark', 'worker', '--queue', url, '--queue-name', queueName, '--workers', '1', '--name', `w${k + 1}`, ...(warmUp ? [] : ['--no-warm-up'])];
      const proc = spawn(process.execPath, args, {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      return new Promise<ChildProcess>((resolve, reject) => {
        let err = '';
        proc.stderr!.on('data', (d: Buffer) => {
          err += d.toString();
          if (err.includes('taking cells')) resolve(proc);
        });
        proc.once('exit', (code) => reject(new Error(`worker w${k + 1} exited (${code}): ${err.slice(-400)}`)));
      });
    }),
  );
}

async function stopWorkers(procs: ChildProcess[]): Promise<void> {
  await Promise.all(
    procs.map((p) => {
      if (p.exitCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      return exited;
    }),
  );
}

/** One timed run of the matrix on `n` workers. */
interface QueueRun {
  workers: number;
  wallMs: number;
  loadBefore: number[];
  loadAfter: number[];
  /** CPU seconds of each worker process over the run (startup excluded), and of this process (the submitter). */
  workerCpuS: (number | null)[];
  submitterCpuS: number;
  /** Redis's CPU seconds over the run. */
  redisCpuS: number | null;
  /**
   * CPU seconds other processes of the machine used during the run (the machine's busy time less the workers',
   * the submitter's and Redis's): how much the run was contended.
   */
  othersCpuS: number | null;
  /** Cells each worker ran. */
  cellsPerWorker: Record<string, number>;
  /** The compute backends the cells ran on, from their results.json (`machine.backend`). */
  backends: string[];
  accuracy: Record<string, number>;
}

/** Runs the benchmark; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const cells = intFlag('cells', values.cells, 1);
  const repeat = intFlag('repeat', values.repeat, 1);
  const rounds = intFlag('rounds', values.rounds, 1);
  const localEpochs = intFlag('local-epochs', values['local-epochs'], 1);
  const matrix = benchMatrix(cells, rounds, localEpochs);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'rfl-bench-queue-'));
  const redis = await startRedis(scratch);
  const url = `redis://127.0.0.1:${redis.port}`;
  const target = parseRedisTarget(url);
  console.log(
    `${cells} cells (${matrix.description}); redis-server on ${url}; workers ${values['no-warm-up'] ? 'start cold (--no-warm-up)' : 'warmed up before the clock starts'}; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'})`,
  );
  const runs: QueueRun[] = [];
  let embedded: { wallMs: number; loadBefore: number[]; loadAfter: number[]; accuracy: Record<string, number> } | undefined;
  try {
    // Pairs alternate (1 worker, 2 workers, 1, 2, …), so a drift of the machine's speed touches both sides alike.
    for (const n of Array.from({ length: repeat }, () => [1, 2]).flat()) {
      const queueName = `rfl-bench-queue-w${n}-${runs.length}`;
      const procs = await startWorkers(n, url, queueName, !values['no-warm-up']);
      const cpu0 = procs.map((p) => cpuSeconds(p.pid!));
      const self0 = process.cpuUsage();
      const redis0 = cpuSeconds(redis.proc.pid!);
      const machine0 = machineBusySeconds();
      const loadBefore = os.loadavg();
      const out = path.join(scratch, `w${n}-${runs.length}`);
      const t0 = performance.now();
      const summary = await submitMatrix(matrix, { out, target, queueName, log: () => undefined });
      const wallMs = performance.now() - t0;
      const loadAfter = os.loadavg();
      const workerCpuS = procs.map((p, k) => {
        const a = cpu0[k];
        const b = cpuSeconds(p.pid!);
        return a === null || a === undefined || b === null ? null : b - a;
      });
      const self = process.cpuUsage(self0);
      const redis1 = cpuSeconds(redis.proc.pid!);
      const machine1 = machineBusySeconds();
      const redisCpuS = redis0 === null || redis1 === null ? null : redis1 - redis0;
      const ours = workerCpuS.reduce<number | null>((a, c) => (a === null || c === null ? null : a + c), (self.user + self.system) / 1e6 + (redisCpuS ?? 0));
      const othersCpuS = machine0 === null || machine1 === null || ours === null ? null : Math.max(0, machine1 - machine0 - ours);
      await stopWorkers(procs);
      if (summary.failed.length > 0) throw new Error(`bench queue: ${summary.failed.length} cells failed with ${n} workers: ${summary.failed.map((f) => `${f.id}: ${f.reason}`).join('; ')}`);
      const cellsPerWorker: Record<string, number> = {};
      for (const w of Object.values(summary.workers)) cellsPerWorker[w] = (cellsPerWorker[w] ?? 0) + 1;
      type CellResults = { final: { accuracy: { clean: number } }; machine?: { backend?: string } };
      const results = [...summary.ran].sort().map((id) => [id, JSON.parse(readFileSync(path.join(out, 'cells', id, 'results.json'), 'utf8')) as CellResults] as const);
      const accuracy = Object.fromEntries(results.map(([id, r]) => [id, r.final.accuracy.clean]));
      // The compute backend the workers' cells ran on (each cell's results say), so a ratio is read with its backend.
      const backends = [...new Set(results.map(([, r]) => r.machine?.backend ?? 'unknown'))].sort();
      runs.push({ workers: n, wallMs, loadBefore, loadAfter, workerCpuS, submitterCpuS: (self.user + self.system) / 1e6, redisCpuS, othersCpuS, cellsPerWorker, backends, accuracy });
      console.log(
        `${n} worker${n === 1 ? ' ' : 's'} (${backends.join(', ')}): ${(wallMs / 1000).toFixed(1)} s wall for ${summary.ran.length} cells (${Object.entries(cellsPerWorker)
          .map(([w, c]) => `${w} ${c}`)
          .join(
            ', ',
          )}); worker CPU ${workerCpuS.map((c) => (c === null ? '?' : `${c.toFixed(1)} s`)).join(' + ')}, submitter CPU ${((self.user + self.system) / 1e6).toFixed(1)} s, Redis CPU ${redisCpuS === null ? '?' : `${redisCpuS.toFixed(1)} s`}; ` +
          `other processes used ${othersCpuS === null ? '?' : `${othersCpuS.toFixed(1)} s`} of CPU meanwhile; load average before ${loadBefore[0]!.toFixed(2)}, after ${loadAfter[0]!.toFixed(2)}`,
      );
    }
    if (values.embedded) {
      await initBackend({ quiet: true });
      const loadBefore = os.loadavg();
      const out = path.join(scratch, 'embedded');
      const t0 = performance.now();
      await runMatrix(matrix, { out, log: () => undefined });
      const wallMs = performance.now() - t0;
      const accuracy = Object.fromEntries(
        Object.keys(runs[0]!.accuracy).map((id) => [
          id,
          (JSON.parse(readFileSync(path.join(out, 'cells', id, 'results.json'), 'utf8')) as { final: { accuracy: { clean: number } } }).final.accuracy.clean,
        ]),
      );
      embedded = { wallMs, loadBefore, loadAfter: os.loadavg(), accuracy };
      console.log(`embedded (no queue, this process, 1 thread per simulation): ${(wallMs / 1000).toFixed(1)} s wall`);
    }
  } finally {
    const exited = new Promise<void>((resolve) => redis.proc.once('exit', () => resolve()));
    redis.proc.kill('SIGTERM');
    await exited;
    rmSync(scratch, { recursive: true, force: true });
  }
  const ones = runs.filter((r) => r.workers === 1);
  const twos = runs.filter((r) => r.workers === 2);
  const same =
    runs.every((r) => JSON.stringify(r.accuracy) === JSON.stringify(ones[0]!.accuracy)) && (embedded === undefined || JSON.stringify(embedded.accuracy) === JSON.stringify(ones[0]!.accuracy));
  // Each pair's ratio, and the median of those: the figure the bar is checked on.
  const ratios = twos.map((t, k) => t.wallMs / ones[k]!.wallMs);
  const sorted = [...ratios].sort((a, b) => a - b);
  const ratio = sorted.length % 2 === 1 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  console.log(
    `ratio 2 workers / 1 worker: ${ratio.toFixed(3)}${ratios.length > 1 ? ` (median of ${ratios.map((r) => r.toFixed(3)).join(', ')})` : ''} (bar ≤ ${BAR}: ${ratio <= BAR ? 'met' : 'NOT met'}); the runs gave ${same ? 'the same' : 'DIFFERENT'} accuracies in every cell`,
  );
  const result = {
    matrix: { name: matrix.name, description: matrix.description, cells, rounds, localEpochs },
    runs,
    embedded: embedded ?? null,
    ratios,
    ratio,
    bar: BAR,
    barMet: ratio <= BAR,
    sameAccuracies: same,
    // Whether each worker warmed its cell thread up before it took cells (`rfl benchmark worker`, the default).
    workersWarmUp: !values['no-warm-up'],
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
    date: new Date().toISOString(),
  };
  mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
  if (!same) throw new Error('bench queue: the runs gave different accuracies (see the JSON)');
}
