/**
 * Distributed benchmark matrices with the real parts: a real redis-server on a free port (no
 * persistence), worker processes each in its own network namespace made by the test (loopback, with the reason
 * logged, where the machine cannot make namespaces), and the submitter in this process.
 *
 * 1. A 4-cell matrix with one worker SIGKILLed in mid-cell (it kills itself after round 1 of its first cell, a point
 *    the test knows): the cell goes back to the queue and the other worker runs it from its start; every cell is
 *    written once, and the cells' files and the report equal a single-process run's, timings aside. A malformed job
 *    put on the queue beside them is refused with its reason and changes nothing else.
 * 2. A network cut between a worker and Redis, and a Redis restart (which loses the queue): each shows as one clear
 *    line, and the matrix finishes when the link and Redis are back, with the same results.
 *
 * Nothing here waits on a timer: each step waits for the line or event that says the previous one happened. Locks
 * and the link monitor run on short settings (3 s, 0.5 s, 2 s), which only make the waits shorter.
 */
import { expect } from 'chai';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Job, Queue } from 'bullmq';
import { readCheckpoint } from '../server/run-store.js';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { parseRedisTarget } from '../simulations/benchmark/queue/redis-target.js';
import { submitMatrix, type SubmitSummary } from '../simulations/benchmark/queue/submit.js';
import { buildReport } from '../simulations/report/build.js';
import { redisMissing, startRedis, type TestRedis } from './helpers/redis-server.js';
import { cellSansTiming, reportSansTiming } from './helpers/sans-timing.js';
import { makeWorkerHosts, removeWorkerHosts, setLink, spawnOn, type WorkerHost } from './helpers/worker-namespaces.js';

const MATRIX = {
  name: 'queue-e2e',
  base: {
    dataset: 'synthetic',
    model: 'linear',
    numClients: 4,
    fraction: 1,
    rounds: 3,
    localEpochs: 1,
    batchSize: 32,
    lr: 0.1,
    sharedSetSize: 8,
    evalEvery: 3,
    evalAttacks: ['clean'],
    finalAttacks: ['clean', 'fgsm'],
    workers: 1,
  },
  defenses: [
    { name: 'fedavg', method: 'fedavg', secure: true },
    { name: 'fedavg+median', method: 'fedavg', secure: false, aggregation: { rule: 'median' } },
  ],
  threats: [{ name: 'none' }, { name: 'sign-flip', behavior: { kind: 'sign-flip', s: 3 } }],
  corruption: [0.25],
  seeds: [1],
};
const IDS = expandMatrix(parseMatrix(MATRIX)).map((c) => c.id);
const LOCK = { lockMs: 3000, stalledCheckMs: 500, lostAfterMs: 2000 };
const RFL = path.resolve('dist/cli/rfl.js');

/** A child process's stderr, and a way to wait for a line matching a pattern (from a given offset on). */
class Watched {
  text = '';
  private waiters: { re: RegExp; from: number; resolve: (m: RegExpMatchArray) => void; reject: (e: Error) => void }[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly proc: ChildProcess) {
    proc.stderr!.on('data', (d: Buffer) => {
      this.text += d.toString();
      this.check();
    });
    this.exited = new Promise((resolve) =>
      proc.once('close', (code, signal) => {
        // A line awaited from a process that is gone will never come: fail with what it said.
        for (const w of this.waiters.splice(0)) w.reject(new Error(`the process exited (${code ?? signal}) before printing ${w.re}: ${this.text.slice(-800)}`));
        resolve({ code, signal });
      }),
    );
  }
  /** Resolves with the first match of `re` at or after offset `from` of the text. */
  waitFor(re: RegExp, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
        const m = this.text.slice(from).match(re);
        return m !== null ? resolve(m) : reject(new Error(`the process exited before printing ${re}: ${this.text.slice(-800)}`));
      }
      this.waiters.push({ re, from, resolve, reject });
      this.check();
    });
  }
  private check(): void {
    this.waiters = this.waiters.filter((w) => {
      const m = this.text.slice(w.from).match(w.re);
      if (m !== null) w.resolve(m);
      return m === null;
    });
  }
}

/** A log sink that can be waited on, like `Watched`. */
class Lines {
  lines: string[] = [];
  private waiters: { re: RegExp; resolve: () => void }[] = [];
  readonly log = (line: string): void => {
    this.lines.push(line);
    this.waiters = this.waiters.filter((w) => (w.re.test(line) ? (w.resolve(), false) : true));
  };
  waitFor(re: RegExp): Promise<void> {
    if (this.lines.some((l) => re.test(l))) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ re, resolve }));
  }
}

describe('distributed benchmark matrices on BullMQ and a real Redis', function () {
  this.timeout(240000);
  let redis: TestRedis;
  let hosts: WorkerHost[] | undefined;
  let local: string;
  const children: ChildProcess[] = [];
  // A failing test must not leave a submitter waiting on Redis (mocha would never exit).
  const stop = new AbortController();
  let w2: Watched;
  const urlFor = (k: number): string => redis.url(hosts?.[k]?.gateway);

  before(async () => {
    const missing = redisMissing();
    // Like the browser tests' chromium, Redis is installed by .ci/run: a missing one fails rather than skips.
    if (missing !== undefined) throw new Error(missing);
    const made = makeWorkerHosts(2);
    hosts = made.hosts;
    console.log(hosts !== undefined ? `      (workers in network namespaces ${hosts.map((h) => h.ns).join(', ')})` : `      (workers on loopback: ${made.reason})`);
    redis = await startRedis(hosts?.map((h) => h.gateway) ?? []);
    local = path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-queue-')), 'local');
    // The single-process run as a user runs it: `rfl benchmark`, in a fresh process (a process's live tensor count,
    // which rounds.jsonl records, must not carry what earlier tests in this one left behind).
    writeFileSync(path.join(path.dirname(local), 'matrix.json'), JSON.stringify(MATRIX));
    const r = spawnSync(process.execPath, [RFL, 'benchmark', '--config', path.join(path.dirname(local), 'matrix.json'), '--out', local], {
      encoding: 'utf8',
      env: { ...process.env, RFL_BACKEND: 'wasm' },
    });
    expect(r.status, r.stderr).to.equal(0);
    await buildReport([local], path.join(local, 'report'));
  });

  after(async () => {
    stop.abort();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await redis?.dispose();
    if (hosts !== undefined) removeWorkerHosts(hosts);
  });

  const expectSameAsLocal = (out: string, ids: readonly string[]): void => {
    for (const id of ids) {
      expect(cellSansTiming(out, id), id).to.deep.equal(cellSansTiming(local, id));
      const a = readCheckpoint(path.join(out, 'cells', id, 'checkpoint.bin')).weights;
      const b = readCheckpoint(path.join(local, 'cells', id, 'checkpoint.bin')).weights;
      expect(Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength)), `${id}: final weights`).to.equal(true);
    }
  };

  it('runs a 4-cell matrix on two workers, one SIGKILLed mid-cell: each cell written once, the report equal to a single-process run', async () => {
    const target = parseRedisTarget(redis.url());
    const queue = new Queue('rfl-cells', { connection: target.connection });
    try {
      // A malformed job beside the matrix's: refused by whichever worker takes it, and nothing else changes.
      await queue.add('cell', { protocol: 1, fingerprint: 'not-a-fingerprint', matrix: {}, cell: 'x' }, { jobId: 'malformed-1', attempts: 3 });

      const w1 = new Watched(
        spawnOn(hosts?.[0], [fileURLToPath(new URL('./fixtures/queue-worker-killed.js', import.meta.url)), JSON.stringify({ url: urlFor(0), name: 'w1', ...LOCK })], {
          stdio: ['ignore', 'ignore', 'pipe'],
        }),
      );
      children.push(w1.proc);
      await w1.waitFor(/taking cells/);
      const out = path.join(path.dirname(local), 'queued');
      const lines = new Lines();
      const submitted: Promise<SubmitSummary> = submitMatrix(parseMatrix(MATRIX), { out, target, lostAfterMs: LOCK.lostAfterMs, log: lines.log, signal: stop.signal });
      // The second worker starts once the first holds a cell, so the first surely dies in mid-cell with its lock held
      // (its processor kills it after round 1 of that cell, from the cell's thread).
      const killed = (await w1.waitFor(/cell (\S+) of matrix queue-e2e: running/))[1]!;
      w2 = new Watched(
        spawnOn(
          hosts?.[1],
          [
            RFL,
            'benchmark',
            'worker',
            '--queue',
            urlFor(1),
            '--name',
            'w2',
            '--lock-s',
            String(LOCK.lockMs / 1000),
            '--stalled-check-s',
            String(LOCK.stalledCheckMs / 1000),
            '--unreachable-after-s',
            String(LOCK.lostAfterMs / 1000),
          ],
          { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RFL_BACKEND: 'wasm' } },
        ),
      );
      children.push(w2.proc);
      expect((await w1.exited).signal, w1.text.slice(-600)).to.equal('SIGKILL');

      const summary = await submitted;
      expect([...summary.ran].sort(), lines.lines.join('\n')).to.deep.equal([...IDS].sort());
      expect(summary.failed).to.deep.equal([]);
      expect(summary.duplicates).to.equal(0);
      expect(summary.retried).to.include(killed);
      // w1 died before finishing anything: every cell, the killed one included, came back from w2.
      expect(Object.values(summary.workers)).to.deep.equal(IDS.map(() => 'w2'));
      expect(lines.lines.join('\n')).to.contain(`queue: cell ${killed}: w1 stopped answering`);
      // w2 (a real `rfl benchmark worker`) warmed its cell thread up before it said it takes cells.
      const warmed = w2.text.search(/warmed up in \d/);
      expect(warmed, w2.text.slice(0, 800)).to.be.at.least(0);
      expect(warmed, w2.text.slice(0, 800)).to.be.below(w2.text.search(/taking cells/));
      expect(
        lines.lines.some((l) => /^queue: \d\/4 done, 1 running \(\S+ on w2 round [1-3]\/3\), \d queued$/.test(l)),
        'progress names the worker and the round',
      ).to.equal(true);

      expectSameAsLocal(out, IDS);
      await buildReport([out], path.join(out, 'report'));
      expect(reportSansTiming(path.join(out, 'report'))).to.deep.equal(reportSansTiming(path.join(local, 'report')));

      const bad = await Job.fromId(queue, 'malformed-1');
      expect(await bad!.getState()).to.equal('failed');
      expect(bad!.failedReason).to.match(/^job malformed-1: refused: malformed payload: fingerprint: 16 lower-case hex digits$/);
      // Failed for good at once (an unrecoverable refusal), not retried three times.
      expect(bad!.attemptsMade).to.equal(1);
    } finally {
      await queue.close();
    }
    expect(w2.proc.exitCode).to.equal(null);
  });

  it('says so when the network is cut or Redis restarts, and finishes the cells when both are back', async () => {
    const target = parseRedisTarget(redis.url());
    const cells = IDS.slice(0, 2);
    const h = hosts?.[1];
    if (h !== undefined) {
      const from = w2.text.length;
      setLink(h, false);
      await w2.waitFor(/queue: no answer from redis:\/\/\S+ for [\d.]+ s \(no error: the network may be cut, or Redis is stopped\)/, from);
    } else console.log('      (network cut skipped: the workers run on loopback)');

    const out = path.join(path.dirname(local), 'restarted');
    const lines = new Lines();
    const submitted = submitMatrix(parseMatrix(MATRIX), { out, target, cells, lostAfterMs: LOCK.lostAfterMs, reconcileMs: 60000, log: lines.log, signal: stop.signal });
    await lines.waitFor(/^queue: 0\/2 done, 0 running, 2 queued$/);
    // Redis restarts without its data: the jobs are gone, and the submitter queues them again once it answers.
    await redis.stop();
    await lines.waitFor(/^queue: no answer from redis:\/\/127\.0\.0\.1:\d+ for [\d.]+ s \(last error: .+\); waiting for it to come back/);
    await redis.start();
    await lines.waitFor(/^queue: redis:\/\/127\.0\.0\.1:\d+ answers again after [\d.]+ s without; continuing$/);
    await lines.waitFor(new RegExp(`^queue: cell ${cells[1]!.replace(/[+]/g, '\\+')}: its job is gone from the queue \\(Redis restarted without its data\\?\\); queued again$`));
    if (h !== undefined) {
      const from = w2.text.length;
      setLink(h, true);
      await w2.waitFor(/queue: redis:\/\/\S+ answers again after [\d.]+ s without; continuing/, from);
    }

    const summary = await submitted;
    expect([...summary.ran].sort(), lines.lines.join('\n')).to.deep.equal([...cells].sort());
    expect(summary.failed).to.deep.equal([]);
    expectSameAsLocal(out, cells);
    expect(readFileSync(path.join(out, 'matrix.json'), 'utf8')).to.contain('"name": "queue-e2e"');
  });
});
