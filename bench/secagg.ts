/**
 * End-to-end cost of one secure-aggregation round (docs/spec/secure-aggregation.md §9 "Benchmark"): real client stage
 * machines and the real coordinator, connected in memory, one sum per round.
 *
 * Grid: n ∈ {10, 100, 500}, d ∈ {10^4, 10^5} (`--ns` and `--ds` also take n = 1,000 and d = 10^6), dropout ∈
 * {0, 10 %, 30 %} and two modes, `full` (complete graph,
 * t = ⌊n/2⌋ + 1) and `secagg+` (Harary graph with (k, t) from `sizeSecAggPlus` for the row's dropout, at least 5 %,
 * and 5 % corrupted, semi-honest; where the sized k + 1 reaches n the row uses the complete graph and says so). Dropped clients stop
 * after key agreement (`setup`, `shareKeys`, `checkBoxes`), before their first masked input: the coordinator's worst case, as in Bonawitz et al.
 * Inputs are uniform in [−1, 1], c = 1, R = 2^16, half-up rounding; every decoded sum is checked against the
 * plaintext sum over the survivors.
 *
 * Measured:
 * - client compute: time inside each client's `handle` calls. The transport runs the handlers one at a time, so
 *   a handler's wall time is its own compute (they are synchronous work behind async signatures). Mean and max
 *   over the survivors (the clients that ran every stage), plus the mean per stage.
 * - coordinator compute: wall time of start() + sum() minus the time inside client handlers and minus the
 *   benchmark's own byte counting; also split by stage (from the first request of a stage to the first request
 *   of the next, or the end).
 * - bytes per client: Σ byteLength of typed arrays + UTF-8 length of strings in a client's replies (sent) and in
 *   the requests it got (received), separately; numbers, booleans and framing are not counted. Mean and max over
 *   the survivors.
 *
 * SecAgg+ and dropout: the (k, t) table is for 5 % dropout. At 30 % a uniformly random drop set often leaves
 * some client with fewer than t surviving neighbours, and the round aborts (§8). The benchmark estimates that
 * abort probability from random drop sets (after `start()`, when the graph is known) and then times a drop set
 * that does not abort (the first random one found); the row reports both.
 *
 * A configuration whose estimated wall time exceeds --max-s (default 180 s) is skipped and recorded with the
 * reason and the estimate: mask-expansion words at the calibrated PRG rate, plus the fixed cost measured at
 * d = 10^4 for the same (mode, n, dropout) (or, before that, at the next smaller n, scaled as n²).
 *
 * Every client and the coordinator run for real at every size: no client is sampled or extrapolated. The clients'
 * inputs are regenerated from their seeds when needed rather than kept, so n = 1,000 at d = 10^6 fits in memory.
 * The coordinator removes masks on `--threads` worker threads (server/mask-expansion.ts; default: the machine's
 * parallelism), as `rfl coordinator` does; its time is wall time, so the threads' work counts once, not per thread.
 *
 * `rfl bench secagg --out FILE [--quick] [--max-s S] [--seed N] [--threads N] [--modes full,secagg+]
 * [--ns 10,100,500,1000] [--ds 10000,100000,1000000] [--dropouts 0,0.1,0.3]` (`--quick`: n ∈ {10, 100},
 * d = 10^4; the other flags pick subsets).
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { SecAggClientRound } from '../client/secagg-client.js';
import { SecureSumSession } from '../server/secagg-session.js';
import { MaskExpander } from '../server/mask-expansion.js';
import { identityKeyPair, randomSeed } from '../shared/secagg/keys.js';
import { addMaskInPlace } from '../shared/secagg/prg.js';
import { SecAggAbortedError, SecAggConfigError } from '../shared/secagg/errors.js';
import { completeNeighbours, hararyNeighbours } from '../shared/secagg/graph.js';
import { sizeSecAggPlus } from '../shared/secagg/sizing.js';
import type { GraphSpec, Stage, StageReply } from '../shared/secagg/messages.js';
import type { StageSender } from '../shared/engine/transport.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';
import { MAX_SHARES } from '../shared/secagg/shamir.js';
import { intFlag, numberFlag } from '../shared/util/flags.js';
import { Rng } from '../shared/util/random.js';
import { median } from './timing.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  out: { type: 'string' },
  quick: { type: 'boolean', default: false },
  'max-s': { type: 'string', default: '180' },
  seed: { type: 'string', default: '1' },
  threads: { type: 'string' },
  // Optional subsets of the grid, comma-separated (e.g. for profiling one configuration).
  modes: { type: 'string' },
  ns: { type: 'string' },
  ds: { type: 'string' },
  dropouts: { type: 'string' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  /** A comma-separated flag as a subset of the default list. */
  function subset<T extends string | number>(name: string, flag: string | undefined, defaults: readonly T[], allowed: readonly T[] = defaults): T[] {
    if (flag === undefined) return [...defaults];
    const picked = flag.split(',').map((x) => allowed.find((a) => String(a) === x.trim()));
    if (picked.some((x) => x === undefined)) throw new Error(`--${name} ${flag}: expected a comma-separated subset of ${allowed.join(',')}`);
    return picked as T[];
  }
  const maxS = numberFlag('max-s', values['max-s'], 1);
  const seed = intFlag('seed', values.seed, 0);
  const threads = values.threads === undefined ? undefined : intFlag('threads', values.threads, 0);

  const C = 1;
  const R = 2 ** 16;
  const ALL_MODES = ['full', 'secagg+'] as const;
  type Mode = (typeof ALL_MODES)[number];
  const NS = subset('ns', values.ns, values.quick ? [10, 100] : [10, 100, 500], [10, 100, 500, 1000]);
  const DS = subset('ds', values.ds, values.quick ? [10_000] : [10_000, 100_000], [10_000, 100_000, 1_000_000]);
  const DROPOUTS = subset('dropouts', values.dropouts, [0, 0.1, 0.3]);
  const MODES = subset<Mode>('modes', values.modes, ALL_MODES);
  const STAGE_ORDER: Stage[] = ['setup', 'shareKeys', 'checkBoxes', 'collectMasked', 'consistency', 'unmask', 'reshare'];

  /** Bytes of a message as counted here: typed arrays' byteLength + strings' UTF-8 length, recursively. */
  function messageBytes(x: unknown): number {
    if (typeof x === 'string') return Buffer.byteLength(x, 'utf8');
    if (ArrayBuffer.isView(x)) return x.byteLength;
    if (x instanceof ArrayBuffer) return x.byteLength;
    if (Array.isArray(x)) {
      let s = 0;
      for (const v of x) s += messageBytes(v);
      return s;
    }
    if (x !== null && typeof x === 'object') {
      let s = 0;
      for (const v of Object.values(x)) s += messageBytes(v);
      return s;
    }
    return 0;
  }

  interface Stats {
    mean: number;
    max: number;
  }
  const stats = (xs: number[]): Stats => ({ mean: xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1), max: xs.length > 0 ? Math.max(...xs) : 0 });

  /** One benchmark row. */
  interface Row {
    mode: Mode;
    graph: 'complete' | 'harary';
    note?: string;
    n: number;
    d: number;
    dropout: number;
    dropped: number;
    k: number | null;
    t: number;
    /** ok; aborted (SecAggAbortedError); wrong-sum (decoded sum outside the quantisation bound); skipped. */
    status: 'ok' | 'aborted' | 'wrong-sum' | 'skipped';
    reason?: string;
    estimateS?: number;
    survivors?: number;
    /** Client compute per survivor (ms). */
    clientMs?: Stats;
    /** Mean client compute per survivor by stage (ms). */
    clientStageMs?: Partial<Record<Stage, number>>;
    /** Coordinator compute (ms). */
    serverMs?: number;
    serverStageMs?: Partial<Record<Stage, number>>;
    /** Bytes sent (replies) and received (requests) per survivor. */
    bytesPerClient?: { sent: Stats; received: Stats };
    /** Mean bytes sent per survivor over the raw input (4·d bytes). */
    expansion?: number;
    wallMs?: number;
    maxAbsErr?: number;
    errBound?: number;
    /** SecAgg+: random drop sets tried, and how many of them would have aborted (starved neighbourhoods). */
    dropSets?: { tried: number; wouldAbort: number };
  }

  /** PRG calibration: mask words added per millisecond (AES-256-CTR keystream + the add loop). */
  function calibrateWordsPerMs(): number {
    const words = 100_000;
    const target = new Uint32Array(words);
    const key = randomSeed();
    for (let i = 0; i < 5; i++) addMaskInPlace(target, key, 1);
    const ts: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      addMaskInPlace(target, key, 1);
      ts.push(performance.now() - t0);
    }
    return words / median(ts);
  }

  /** Graph and threshold of a mode at cohort size n, SecAgg+ sized for the row's dropout (at least 5 %) and 5 % corrupted. */
  function graphFor(mode: Mode, n: number, dropout: number): { graph: GraphSpec; k: number | null; t: number; note?: string } {
    const tFull = Math.floor(n / 2) + 1;
    if (mode === 'full') return { graph: { kind: 'complete' }, k: null, t: tFull };
    const declared = Math.max(dropout, 0.05);
    try {
      const p = sizeSecAggPlus({ n, dropout: declared, corrupted: 0.05, adversary: 'semi-honest' });
      if (p.k + 1 >= n) return { graph: { kind: 'complete' }, k: null, t: tFull, note: `complete graph: the sized degree ${p.k} reaches n` };
      return { graph: { kind: 'harary', degree: p.k }, k: p.k, t: p.t, note: `sized for ${declared * 100} % dropout, 5 % corrupted (abort bound ${p.pAbort.toExponential(1)})` };
    } catch (err) {
      if (!(err instanceof SecAggConfigError)) throw err;
      return { graph: { kind: 'complete' }, k: null, t: tFull, note: `complete graph: ${err.message}` };
    }
  }

  /** Mask-expansion words of one round (clients and coordinator) at dimension d, for the estimate. */
  function maskWords(n: number, dropped: number, deg: number, d: number): number {
    const survivors = n - dropped;
    const client = survivors * (deg + 1); // self mask + one pairwise mask per neighbour in the sum's cohort
    const server = survivors + dropped * Math.round(deg * (survivors / n)); // self masks + dropped pair masks
    return (client + server) * d;
  }

  // One expander for the whole grid, as one coordinator keeps one (its threads start once).
  const expander = new MaskExpander(threads !== undefined ? { threads } : {});

  /** Runs one configuration. */
  async function runOne(mode: Mode, n: number, d: number, dropout: number, rng: Rng): Promise<Row> {
    const g = graphFor(mode, n, dropout);
    const dropCount = Math.round(dropout * n);
    const base: Row = { mode, graph: g.graph.kind, ...(g.note !== undefined ? { note: g.note } : {}), n, d, dropout, dropped: dropCount, k: g.k, t: g.t, status: 'ok' };

    const ids = Array.from({ length: n }, (_, i) => `client-${String(i + 1).padStart(4, '0')}`);
    const identities = new Map(ids.map((id) => [id, identityKeyPair()]));
    const runId = randomSeed().subarray(0, 16);
    const spec: VectorSpec = [{ name: 'x', length: d, c: C, R, kind: 'signed' }];
    // Inputs are regenerated from a per-client seed when needed (masking, then the check): 1,000 kept inputs at
    // d = 10^6 would be 8 GB.
    const inputSeed = rng.nextUint32();
    const inputOf = (id: string): Float64Array => {
      const r = new Rng(inputSeed).fork(id);
      return Float64Array.from({ length: d }, () => r.float() * 2 - 1);
    };
    const clients = new Map(
      ids.map((id) => [
        id,
        new SecAggClientRound({ clientId: id, identity: identities.get(id)!, peerIdentity: (p) => identities.get(p)?.publicKey, input: () => [inputOf(id)], rounding: 'half-up' }, runId, 1),
      ]),
    );

    // Per-client accounting.
    const clientMs = new Map(ids.map((id) => [id, 0]));
    const sent = new Map(ids.map((id) => [id, 0]));
    const received = new Map(ids.map((id) => [id, 0]));
    let handlerMs = 0;
    let countingMs = 0;
    // Coordinator time by stage: intervals from a stage's first request to the next stage's first request.
    const serverStage = new Map<Stage, number>();
    let curStage: Stage | undefined;
    let curT0 = 0;
    let curHandler = 0;
    let curCounting = 0;
    const closeStage = (now: number): void => {
      if (curStage === undefined) return;
      const ms = now - curT0 - (handlerMs - curHandler) - (countingMs - curCounting);
      serverStage.set(curStage, (serverStage.get(curStage) ?? 0) + ms);
    };

    let dropped = new Set<string>();
    let chain: Promise<unknown> = Promise.resolve();
    const send: StageSender = (stage, id, request) => {
      const now = performance.now();
      if (stage !== curStage) {
        closeStage(now);
        curStage = stage;
        curT0 = now;
        curHandler = handlerMs;
        curCounting = countingMs;
      }
      if (dropped.has(id)) return Promise.reject(new Error(`${id} dropped`));
      const c0 = performance.now();
      received.set(id, received.get(id)! + messageBytes(request));
      countingMs += performance.now() - c0;
      // One handler at a time: its wall time is its own compute.
      const run = async (): Promise<StageReply<typeof stage>> => {
        const t0 = performance.now();
        let reply: StageReply<typeof stage>;
        try {
          reply = await clients.get(id)!.handle(stage, request);
        } finally {
          const ms = performance.now() - t0;
          handlerMs += ms;
          clientMs.set(id, clientMs.get(id)! + ms);
        }
        const c1 = performance.now();
        sent.set(id, sent.get(id)! + messageBytes(reply));
        countingMs += performance.now() - c1;
        return reply;
      };
      const p = chain.then(run);
      chain = p.catch(() => undefined);
      return p;
    };
    // Per-stage client time of survivors only: track per (client, stage).
    const perClientStage = new Map<string, Map<Stage, number>>();
    const sendTracked: StageSender = (stage, id, request) => {
      const before = clientMs.get(id)!;
      return send(stage, id, request).finally(() => {
        const m = perClientStage.get(id) ?? new Map<Stage, number>();
        m.set(stage, (m.get(stage) ?? 0) + clientMs.get(id)! - before);
        perClientStage.set(id, m);
      });
    };

    const session = new SecureSumSession(
      { runId, round: 1, cohort: ids, identity: (id) => identities.get(id)?.publicKey, threshold: g.t, graph: g.graph, plannedSums: [{ phase: 'model', spec }], expander },
      sendTracked,
    );

    const wall0 = performance.now();
    let dropSets: Row['dropSets'];
    try {
      await session.start();
      closeStage(performance.now());
      curStage = undefined;
      // Choose who drops after key agreement (not timed: the graph is known only now).
      const pick0 = performance.now();
      const u2 = [...session.eligible].sort();
      const nbr = g.graph.kind === 'complete' ? completeNeighbours(u2.length) : hararyNeighbours(u2.length, g.graph.degree, session.sessionId!);
      const starves = (drop: Set<number>): boolean => {
        for (let i = 1; i <= u2.length; i++) {
          let alive = 0;
          for (const j of nbr[i - 1]!) if (!drop.has(j)) alive++;
          if (alive < g.t) return true; // a survivor's self mask, or a dropped client's mask key, is unrecoverable
        }
        return false;
      };
      const tries = g.graph.kind === 'harary' && dropCount > 0 ? 200 : 1;
      let chosen: Set<number> | undefined;
      let wouldAbort = 0;
      for (let i = 0; i < tries; i++) {
        const s = new Set(Array.from(rng.sampleWithoutReplacement(u2.length, dropCount), (j) => j + 1));
        if (starves(s)) wouldAbort++;
        else chosen ??= s;
      }
      if (g.graph.kind === 'harary' && dropCount > 0) dropSets = { tried: tries, wouldAbort };
      if (chosen === undefined) {
        const s = new Set(Array.from(rng.sampleWithoutReplacement(u2.length, dropCount), (j) => j + 1));
        chosen = s; // every random set aborts: time the abort
      }
      dropped = new Set([...chosen].map((j) => u2[j - 1]!));
      const pickMs = performance.now() - pick0;

      const r = await session.sum('model');
      const now = performance.now();
      closeStage(now);
      const wallMs = now - wall0 - pickMs;

      const survivors = r.survivors;
      const plain = new Float64Array(d);
      for (const id of survivors) {
        const x = inputOf(id);
        for (let i = 0; i < d; i++) plain[i] += x[i]!;
      }
      let maxAbsErr = 0;
      for (let i = 0; i < d; i++) maxAbsErr = Math.max(maxAbsErr, Math.abs(plain[i]! - r.sums[0]![i]!));
      const errBound = (survivors.length * C) / R + 1e-9;
      const stageMeans: Partial<Record<Stage, number>> = {};
      for (const st of STAGE_ORDER) {
        const xs = survivors.map((id) => perClientStage.get(id)?.get(st) ?? 0);
        if (xs.some((x) => x > 0)) stageMeans[st] = stats(xs).mean;
      }
      const serverStageMs: Partial<Record<Stage, number>> = {};
      for (const st of STAGE_ORDER) if (serverStage.has(st)) serverStageMs[st] = serverStage.get(st)!;
      const sentS = stats(survivors.map((id) => sent.get(id)!));
      return {
        ...base,
        status: maxAbsErr <= errBound ? 'ok' : 'wrong-sum',
        ...(maxAbsErr <= errBound ? {} : { reason: `decoded sum off by ${maxAbsErr} > bound ${errBound}` }),
        survivors: survivors.length,
        clientMs: stats(survivors.map((id) => clientMs.get(id)!)),
        clientStageMs: stageMeans,
        serverMs: wallMs - handlerMs - countingMs,
        serverStageMs,
        bytesPerClient: { sent: sentS, received: stats(survivors.map((id) => received.get(id)!)) },
        expansion: sentS.mean / (4 * d),
        wallMs,
        maxAbsErr,
        errBound,
        ...(dropSets !== undefined ? { dropSets } : {}),
      };
    } catch (err) {
      if (!(err instanceof SecAggAbortedError)) throw err;
      return { ...base, status: 'aborted', reason: err.message, wallMs: performance.now() - wall0, ...(dropSets !== undefined ? { dropSets } : {}) };
    } finally {
      for (const c of clients.values()) c.dispose();
    }
  }

  const fmt = (x: number | undefined, digits = 0): string => (x === undefined ? '' : x.toFixed(digits));
  const kb = (b: number | undefined): string => (b === undefined ? '' : (b / 1024).toFixed(1));

  function printTable(rows: Row[]): void {
    const head = ['mode', 'graph', 'n', 'd', 'drop', 'k', 't', 'status', 'client ms mean', 'client ms max', 'server ms', 'sent KiB', 'recv KiB', 'expansion', 'wall s'];
    const body = rows.map((r) => [
      r.mode,
      r.graph,
      String(r.n),
      String(r.d),
      `${Math.round(r.dropout * 100)}%`,
      r.k === null ? '-' : String(r.k),
      String(r.t),
      r.status === 'skipped' ? `skipped (~${fmt(r.estimateS)} s)` : r.status,
      fmt(r.clientMs?.mean, 1),
      fmt(r.clientMs?.max, 1),
      fmt(r.serverMs, 0),
      kb(r.bytesPerClient?.sent.mean),
      kb(r.bytesPerClient?.received.mean),
      r.expansion === undefined ? '' : r.expansion.toFixed(3),
      r.wallMs === undefined ? '' : (r.wallMs / 1000).toFixed(1),
    ]);
    const width = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
    const line = (cells: string[]): string => cells.map((c, j) => (j < 2 || j === 7 ? c.padEnd(width[j]!) : c.padStart(width[j]!))).join('  ');
    console.log(line(head));
    console.log(width.map((w) => '-'.repeat(w)).join('  '));
    for (const b of body) console.log(line(b));
    for (const r of rows) {
      const notes: string[] = [];
      if (r.note?.startsWith('complete graph')) notes.push(r.note);
      if (r.dropSets !== undefined && r.dropSets.wouldAbort > 0)
        notes.push(`${r.dropSets.wouldAbort}/${r.dropSets.tried} random drop sets would abort (a client with < t surviving neighbours); timed a non-aborting one`);
      if (r.reason !== undefined) notes.push(r.reason);
      if (notes.length > 0) console.log(`  ${r.mode} n=${r.n} d=${r.d} drop=${Math.round(r.dropout * 100)}%: ${notes.join('; ')}`);
    }
  }

  async function runGrid(): Promise<void> {
    const rng = new Rng(seed);
    const wordsPerMs = calibrateWordsPerMs();
    const load0 = os.loadavg();
    console.log(
      `PRG calibration: ${(wordsPerMs / 1000).toFixed(1)} M mask words/s; load average ${load0.map((x) => x.toFixed(2)).join(' ')}; ${os.cpus().length} CPUs; coordinator mask threads ${expander.threads}`,
    );
    const rows: Row[] = [];
    /** Fixed (non-mask) cost in ms measured for (mode, n, dropout), for the estimates. */
    const fixedMs = new Map<string, number>();
    const started = performance.now();
    for (const mode of MODES) {
      for (const n of NS) {
        for (const dropout of DROPOUTS) {
          for (const d of DS) {
            const g = graphFor(mode, n, dropout);
            const deg = g.k ?? n - 1;
            const dropCount = Math.round(dropout * n);
            const words = maskWords(n, dropCount, deg, d);
            const key = `${mode}/${n}/${dropout}`;
            // Fixed (non-mask) cost: measured at a smaller d for this (mode, n, dropout), else scaled from the largest
            // smaller n measured as n² (every client handles every advertisement, and on the complete graph every peer).
            let fixed = fixedMs.get(key);
            if (fixed === undefined) {
              const smaller = NS.filter((m) => m < n && fixedMs.has(`${mode}/${m}/${dropout}`));
              const m = smaller[smaller.length - 1];
              fixed = m === undefined ? 0 : fixedMs.get(`${mode}/${m}/${dropout}`)! * (n / m) ** 2;
            }
            const estimateS = (1.3 * (words / wordsPerMs) + fixed) / 1000;
            if (g.graph.kind === 'complete' && n > MAX_SHARES) {
              // The coordinator refuses it: one Shamir share per cohort member, GF(256) allows at most 255.
              const row: Row = {
                mode,
                graph: g.graph.kind,
                n,
                d,
                dropout,
                dropped: dropCount,
                k: g.k,
                t: g.t,
                status: 'skipped',
                estimateS,
                reason: `the complete graph needs n = ${n} Shamir shares per secret, above the ${MAX_SHARES} of GF(256): SecureSumSession refuses it (SecAgg+ is mandatory above ${MAX_SHARES}); estimate if it could run: ${estimateS.toFixed(0)} s`,
              };
              rows.push(row);
              console.error(`skip ${key} d=${d}: ${row.reason}`);
              continue;
            }
            if (estimateS > maxS) {
              const row: Row = {
                mode,
                graph: g.graph.kind,
                ...(g.note !== undefined ? { note: g.note } : {}),
                n,
                d,
                dropout,
                dropped: dropCount,
                k: g.k,
                t: g.t,
                status: 'skipped',
                estimateS,
                reason: `estimated ${estimateS.toFixed(0)} s > --max-s ${maxS} (${(words / 1e9).toFixed(2)} G mask words at ${(wordsPerMs / 1000).toFixed(0)} M/s, ×1.3, + fixed cost)`,
              };
              rows.push(row);
              console.error(`skip ${key} d=${d}: ${row.reason}`);
              continue;
            }
            console.error(`run  ${key} d=${d} (estimate ${estimateS.toFixed(1)} s) …`);
            const row = await runOne(mode, n, d, dropout, rng.fork(`${key}/${d}`));
            if (row.wallMs !== undefined && row.status === 'ok') fixedMs.set(key, Math.max(0, row.wallMs - words / wordsPerMs));
            rows.push(row);
            console.error(`     ${row.status}: wall ${((row.wallMs ?? 0) / 1000).toFixed(1)} s, client mean ${fmt(row.clientMs?.mean, 1)} ms, server ${fmt(row.serverMs)} ms`);
          }
        }
      }
    }
    const load1 = os.loadavg();
    printTable(rows);
    const bar = (mode: Mode, n: number, d: number, dropout: number): Row | undefined => rows.find((r) => r.mode === mode && r.n === n && r.d === d && r.dropout === dropout);
    const bars: { name: string; met: boolean | null; detail: string }[] = [];
    const b1 = bar('secagg+', 500, 100_000, 0.3);
    bars.push({
      name: 'SecAgg+ n=500 d=100000 30% dropout: coordinator ≤ 15 s, client ≤ 0.5 s',
      met: b1?.status === 'ok' ? b1.serverMs! <= 15_000 && b1.clientMs!.max <= 500 : null,
      detail:
        b1?.status === 'ok'
          ? `coordinator ${(b1.serverMs! / 1000).toFixed(2)} s, client mean ${b1.clientMs!.mean.toFixed(0)} ms / max ${b1.clientMs!.max.toFixed(0)} ms`
          : `not measured (${b1?.status ?? 'not in this run'})`,
    });
    const b1b = bar('secagg+', 1000, 1_000_000, 0.3);
    bars.push({
      name: 'SecAgg+ n=1000 d=1000000 30% dropout: coordinator ≤ 30 s, client ≤ 2 s',
      met: b1b?.status === 'ok' ? b1b.serverMs! <= 30_000 && b1b.clientMs!.max <= 2_000 : null,
      detail:
        b1b?.status === 'ok'
          ? `coordinator ${(b1b.serverMs! / 1000).toFixed(2)} s, client mean ${b1b.clientMs!.mean.toFixed(0)} ms / max ${b1b.clientMs!.max.toFixed(0)} ms`
          : `not measured (${b1b?.status ?? 'not in this run'})`,
    });
    const b2 = bar('full', 100, 100_000, 0.1);
    bars.push({
      name: 'full graph n=100 d=100000 10% dropout: coordinator ≤ 5 s',
      met: b2?.status === 'ok' ? b2.serverMs! <= 5_000 : null,
      detail: b2?.status === 'ok' ? `coordinator ${(b2.serverMs! / 1000).toFixed(2)} s` : `not measured (${b2?.status ?? 'not in this run'})`,
    });
    console.log('');
    for (const b of bars) console.log(`bar: ${b.name}: ${b.met === null ? 'n/a' : b.met ? 'met' : 'MISSED'} (${b.detail})`);
    console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}; total ${((performance.now() - started) / 1000).toFixed(0)} s`);

    if (values.out !== undefined) {
      mkdirSync(path.dirname(path.resolve(values.out)), { recursive: true });
      const meta = {
        date: new Date().toISOString(),
        node: process.version,
        cpu: os.cpus()[0]?.model,
        cpus: os.cpus().length,
        quick: values.quick,
        maxS,
        seed,
        loadavgBefore: load0,
        loadavgAfter: load1,
        prgWordsPerMs: wordsPerMs,
        coordinatorMaskThreads: expander.threads,
        c: C,
        R,
        rounding: 'half-up',
        sumsPerRound: 1,
        dropPoint: 'after key agreement (setup, shareKeys, checkBoxes), before the first masked input',
      };
      writeFileSync(values.out, JSON.stringify({ meta, bars, rows }, null, 2) + '\n');
      console.log(`wrote ${values.out}`);
    }
  }

  try {
    await runGrid();
  } finally {
    await expander.close();
  }
}
