/**
 * `rfl bench sim [--out FILE] [--rounds N] [--warmup-rounds N] [--repeats N] [--dataset NAME] [--max-clients N] [--max-rounds N]`
 *
 * The simulation engine's costs on the standard scenario (simulations/scenarios/standard.yaml: 100 clients,
 * fraction 0.1, 1 local epoch, cnn-mnist, fed-bva, secure aggregation on):
 *  1. the mean round split into local training, Decent_BVA statistics, secure aggregation and everything else
 *     (evaluation excluded), and client updates per second, with 1 and with 2 workers, over `--rounds` rounds that
 *     follow `--warmup-rounds` untimed ones; the worker counts take turns `--repeats` times (fresh simulations
 *     each; the table gives means, the speed-up the median of the repeats' ratios). The warm-up matters for the comparison: a fresh pool thread compiles the
 *     training path over its first tasks, and each of 2 threads sees half of a round's tasks, so it warms up over
 *     twice as many rounds as 1 thread does (the ratio over all rounds, warm-up included, is printed too);
 *  2. scale: `--max-clients` (default 1,000) connected virtual clients in one process, 10 % per round, for
 *     `--max-rounds` (default 3) rounds; the resident memory once all are connected.
 * Prints a table and the training speed-up of the most workers over one, and writes JSON (roundMs, trainMs,
 * bvaMs, secaggMs, otherMs, trainSpeedup, trainTimeRatio, clientUpdatesPerSec, workers, maxClients,
 * rssMbAtMaxClients, and the per-worker-count detail).
 *
 * For each worker count it also prints what the main thread (the coordinator and every virtual client) costs a
 * timed round: its CPU time (Linux, from /proc; the main thread shares the cores with the workers, so its work
 * slows theirs) and V8's garbage collections on it, full and young (`mainThread` in the JSON).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { constants as perfConstants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { loadScenario } from '../simulations/scenario.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';
import { intFlag } from '../shared/util/flags.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  out: { type: 'string', default: 'runs/bench-sim.json' },
  rounds: { type: 'string', default: '20' },
  'warmup-rounds': { type: 'string', default: '20' },
  dataset: { type: 'string', default: 'mnist-embedded' },
  'max-clients': { type: 'string', default: '1000' },
  'max-rounds': { type: 'string', default: '3' },
  workers: { type: 'string', default: '1,2' },
  repeats: { type: 'string', default: '3' },
} satisfies ParseArgsOptionsConfig;

/** The main thread's CPU time in ms (user + system) on Linux, from /proc; undefined elsewhere. */
function mainThreadCpuMs(): number | undefined {
  const stat = `/proc/self/task/${process.pid}/stat`;
  if (!existsSync(stat)) return undefined;
  const s = readFileSync(stat, 'utf8');
  const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // utime and stime (fields 14 and 15 of proc(5)), in clock ticks of 10 ms (USER_HZ 100 on Linux).
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Counts V8's collections on this thread while `counting` is on. */
class GcCounter {
  counting = false;
  readonly counts = { full: 0, young: 0, ms: 0 };
  private readonly observer = new PerformanceObserver((list) => {
    if (!this.counting) return;
    for (const e of list.getEntries()) this.add(e);
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  private add(e: PerformanceEntry): void {
    const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.counts.full++;
    else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) this.counts.young++;
    this.counts.ms += e.duration;
  }

  stop(): void {
    this.observer.disconnect();
  }
}

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  const rounds = intFlag('rounds', values.rounds, 1);
  const warmup = intFlag('warmup-rounds', values['warmup-rounds'], 0);
  const maxClients = intFlag('max-clients', values['max-clients'], 0);
  const maxRounds = intFlag('max-rounds', values['max-rounds'], 1);
  const repeats = intFlag('repeats', values.repeats, 1);
  const workerCounts = [...new Set(values.workers!.split(',').map((w) => intFlag('workers', w, 1)))];
  const here = path.dirname(fileURLToPath(import.meta.url));
  const standard = path.resolve(here, '../../simulations/scenarios/standard.yaml');
  const choice = await initBackend({ quiet: true });
  const data = loadDataset(values.dataset!);
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'rfl-bench-sim-'));
  const s = (x: number): string => (x / 1000).toFixed(2).padStart(7);

  console.log(
    `standard scenario on ${values.dataset} (${data.train.count} training images): 100 clients, fraction 0.1, 1 local epoch, cnn-mnist, fed-bva, secure aggregation; ${rounds} rounds timed after ${warmup} untimed, evaluation excluded; worker counts ${workerCounts.join(', ')} taking turns ${repeats} time${repeats === 1 ? '' : 's'} (the table: means)`,
  );
  console.log('workers   round s   train s     BV s  secagg s   other s  overhead  updates/s');
  type MainThread = { cpuMsPerRound: number | null; fullGcPerRound: number; youngGcPerRound: number; gcMsPerRound: number };
  type Run = SimulationResult['timing'] & { overheadFraction: number; trainMsWithWarmup: number; mainThread: MainThread };

  /** One simulation of the standard scenario with `workers` workers: its timed rounds' means. */
  const measure = async (workers: number, repeat: number): Promise<Run> => {
    const total = warmup + rounds;
    const scenario = loadScenario(standard, [`rounds=${total}`, `evalEvery=${total}`, `dataset=${values.dataset}`, 'evalAttacks=[clean]', 'finalAttacks=[clean]']);
    const records: SimRoundRecord[] = [];
    // The main thread's CPU time and collections over the timed rounds (those after the warm-up).
    const gc = new GcCounter();
    let cpuAtWarmup = warmup === 0 ? mainThreadCpuMs() : undefined;
    gc.counting = warmup === 0;
    let cpuAtEnd: number | undefined;
    const onRound = (rec: SimRoundRecord): void => {
      records.push(rec);
      if (records.length === warmup) {
        cpuAtWarmup = mainThreadCpuMs();
        gc.counting = true;
      }
      if (records.length === total) {
        cpuAtEnd = mainThreadCpuMs();
        gc.counting = false;
      }
    };
    const r = await runSimulation({ scenario, runDir: path.join(scratch, `standard-w${workers}-r${repeat}`), data, workers, log: () => undefined, onRound });
    gc.stop();
    const timed = records.slice(warmup).filter((x) => x.status === 'completed');
    if (timed.length === 0) throw new Error(`bench sim: no timed round completed with ${workers} worker(s)`);
    const mean = (f: (x: SimRoundRecord) => number): number => timed.reduce((a, x) => a + f(x), 0) / timed.length;
    const t = {
      ...r.timing,
      roundMs: mean((x) => x.ms.round),
      trainMs: mean((x) => x.ms.train),
      bvaMs: mean((x) => x.ms.bva),
      secaggMs: mean((x) => x.ms.secagg),
      otherMs: mean((x) => x.ms.other),
      clientUpdatesPerSec: timed.reduce((a, x) => a + x.trained, 0) / (timed.reduce((a, x) => a + x.ms.round, 0) / 1000),
    };
    const n = records.length - warmup;
    const mainThread: MainThread = {
      cpuMsPerRound: cpuAtWarmup !== undefined && cpuAtEnd !== undefined ? (cpuAtEnd - cpuAtWarmup) / n : null,
      fullGcPerRound: gc.counts.full / n,
      youngGcPerRound: gc.counts.young / n,
      gcMsPerRound: gc.counts.ms / n,
    };
    return { ...t, overheadFraction: (t.secaggMs + t.otherMs) / t.roundMs, trainMsWithWarmup: r.timing.trainMs, mainThread };
  };

  // The worker counts take turns, `repeats` times, so that each ratio compares runs made minutes apart at most:
  // on a shared or virtual machine the speed drifts more between minutes than within one.
  const runs: Record<string, Run[]> = Object.fromEntries(workerCounts.map((w) => [w, []]));
  for (let k = 0; k < repeats; k++) for (const workers of workerCounts) runs[workers]!.push(await measure(workers, k));

  // The table: each field's mean over the repeats.
  const avg = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;
  const perWorkers: Record<string, Run & { trainMsRuns: number[] }> = {};
  for (const workers of workerCounts) {
    const rs = runs[workers]!;
    const field = (f: (x: Run) => number): number => avg(rs.map(f));
    const cpu = rs.map((x) => x.mainThread.cpuMsPerRound);
    const t: Run & { trainMsRuns: number[] } = {
      ...rs[rs.length - 1]!,
      roundMs: field((x) => x.roundMs),
      trainMs: field((x) => x.trainMs),
      bvaMs: field((x) => x.bvaMs),
      secaggMs: field((x) => x.secaggMs),
      otherMs: field((x) => x.otherMs),
      clientUpdatesPerSec: field((x) => x.clientUpdatesPerSec),
      overheadFraction: field((x) => x.overheadFraction),
      trainMsWithWarmup: field((x) => x.trainMsWithWarmup),
      mainThread: {
        cpuMsPerRound: cpu.every((c) => c !== null) ? avg(cpu as number[]) : null,
        fullGcPerRound: field((x) => x.mainThread.fullGcPerRound),
        youngGcPerRound: field((x) => x.mainThread.youngGcPerRound),
        gcMsPerRound: field((x) => x.mainThread.gcMsPerRound),
      },
      trainMsRuns: rs.map((x) => x.trainMs),
    };
    perWorkers[workers] = t;
    console.log(
      `${String(workers).padStart(7)}  ${s(t.roundMs)}  ${s(t.trainMs)}  ${s(t.bvaMs)}  ${s(t.secaggMs)}  ${s(t.otherMs)}  ${(100 * t.overheadFraction).toFixed(1).padStart(7)} %  ${t.clientUpdatesPerSec.toFixed(2).padStart(9)}`,
    );
  }
  for (const workers of workerCounts) {
    const m = perWorkers[workers]!.mainThread;
    console.log(
      `${workers} worker${workers === 1 ? '' : 's'}: main thread (coordinator and virtual clients) ${m.cpuMsPerRound !== null ? `${m.cpuMsPerRound.toFixed(0)} ms CPU a round` : 'CPU time not measured (Linux only)'}; V8 collections on it a round: ${m.fullGcPerRound.toFixed(2)} full, ${m.youngGcPerRound.toFixed(2)} young, ${m.gcMsPerRound.toFixed(1)} ms`,
    );
  }

  // The pool's scaling: the round's training time with the most workers against one worker, per repeat, and
  // their median.
  const most = Math.max(...workerCounts);
  const ratios = runs[1] !== undefined && most > 1 ? runs[1].map((one, k) => runs[most]![k]!.trainMs / one.trainMs) : [];
  const ratiosWithWarmup = runs[1] !== undefined && most > 1 ? runs[1].map((one, k) => runs[most]![k]!.trainMsWithWarmup / one.trainMsWithWarmup) : [];
  const median = (xs: readonly number[]): number => {
    const o = [...xs].sort((a, b) => a - b);
    return o.length % 2 === 1 ? o[(o.length - 1) / 2]! : (o[o.length / 2 - 1]! + o[o.length / 2]!) / 2;
  };
  const ratio = ratios.length > 0 ? median(ratios) : undefined;
  const trainSpeedup = ratio !== undefined ? 1 / ratio : undefined;
  const withWarmup = ratiosWithWarmup.length > 0 ? median(ratiosWithWarmup) : undefined;
  if (ratio !== undefined) {
    console.log(
      `training with ${most} workers: ${trainSpeedup!.toFixed(2)}× the speed of 1 (time ratio ${ratio.toFixed(3)}, the median of ${ratios.length}: ${ratios.map((x) => x.toFixed(3)).join(', ')}) over the timed rounds; ${withWarmup!.toFixed(3)} over all ${warmup + rounds} rounds, warm-up included; compute backend ${choice.name}${choice.adapter !== undefined ? ` (${choice.adapter})` : ''}`,
    );
  }

  let scale: SimulationResult | undefined;
  if (maxClients === 0) console.log('\nscale part skipped (--max-clients 0)');
  else {
    console.log(`\nscale: ${maxClients} connected virtual clients, ${Math.floor(maxClients / 10)} per round, ${maxRounds} rounds (same scenario otherwise)`);
    const big = loadScenario(standard, [`numClients=${maxClients}`, `rounds=${maxRounds}`, `evalEvery=${maxRounds}`, 'evalAttacks=[clean]', 'finalAttacks=[clean]', 'dataset=mnist-embedded']);
    scale = await runSimulation({ scenario: big, runDir: path.join(scratch, 'scale'), data: loadDataset('mnist-embedded'), log: () => undefined });
    console.log(
      `connected ${scale.clients} clients in ${(scale.timing.connectMs / 1000).toFixed(1)} s; RSS ${scale.connectedRssMb.toFixed(0)} MB once connected; ` +
        `${scale.completedRounds}/${maxRounds} rounds completed, mean round ${(scale.timing.roundMs / 1000).toFixed(1)} s; clean accuracy ${(100 * (scale.final.accuracy['clean'] ?? NaN)).toFixed(1)} %`,
    );
  }

  const main = perWorkers[Math.max(...workerCounts)]!;
  const result = {
    scenario: 'standard',
    dataset: values.dataset,
    rounds,
    backend: choice.name,
    roundMs: main.roundMs,
    trainMs: main.trainMs,
    bvaMs: main.bvaMs,
    secaggMs: main.secaggMs,
    otherMs: main.otherMs,
    overheadFraction: main.overheadFraction,
    trainSpeedup: trainSpeedup ?? null,
    trainTimeRatio: ratio ?? null,
    trainTimeRatios: ratios,
    repeats,
    trainTimeRatioWithWarmup: withWarmup ?? null,
    warmupRounds: warmup,
    clientUpdatesPerSec: Object.fromEntries(Object.entries(perWorkers).map(([w, t]) => [w, t.clientUpdatesPerSec])),
    workers: workerCounts,
    perWorkers,
    maxClients: scale?.clients ?? null,
    maxClientsRounds: scale !== undefined ? { asked: maxRounds, completed: scale.completedRounds, meanRoundMs: scale.timing.roundMs } : null,
    rssMbAtMaxClients: scale?.connectedRssMb ?? null,
    connectMsAtMaxClients: scale?.timing.connectMs ?? null,
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version, tfjs: tf.version.tfjs },
    date: new Date().toISOString(),
  };
  mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  writeFileSync(values.out!, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${values.out}`);
}
