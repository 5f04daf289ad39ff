/**
 * The distributed matrix's messages, without Redis: a worker refuses a bad job with a reason that names what is
 * wrong (and runs nothing); the submitter checks a worker's result whole before writing anything, writes a cell
 * once, and drops a second result for it; the link monitor says "lost" and "back" once each, on an injected clock;
 * `--queue` URLs are checked; the progress line names the running cells' workers and rounds.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { expandMatrix, parseMatrix } from '../simulations/benchmark/matrix.js';
import { runCell } from '../simulations/benchmark/run.js';
import { packRunDir } from '../simulations/benchmark/queue/cell-files.js';
import { LinkMonitor } from '../simulations/benchmark/queue/link-monitor.js';
import { QueueProgress } from '../simulations/benchmark/queue/progress.js';
import { jobIdOf, matrixFingerprint, QUEUE_PROTOCOL, type CellResult } from '../simulations/benchmark/queue/protocol.js';
import { parseRedisTarget } from '../simulations/benchmark/queue/redis-target.js';
import { cellOfJob } from '../simulations/benchmark/queue/cell-processor.js';
import { CellResultError, writeCellOnce } from '../simulations/benchmark/queue/write-cell.js';
import { prepareScenario } from '../simulations/scenario.js';
import { TINY_LINEAR_SCENARIO } from './helpers/tiny-federation.js';

const matrix = parseMatrix({
  name: 'protocol',
  base: TINY_LINEAR_SCENARIO,
  defenses: [{ name: 'fedavg', method: 'fedavg', secure: false }],
  threats: [{ name: 'none' }],
  seeds: [1, 2],
});
const fp = matrixFingerprint(matrix);
const [cell, other] = expandMatrix(matrix) as [ReturnType<typeof expandMatrix>[number], ReturnType<typeof expandMatrix>[number]];
const job = (data: unknown, id = jobIdOf(fp, cell.id), name = 'cell') => ({ id, name, data });

describe('distributed matrices: what crosses Redis', function () {
  this.timeout(120000);

  describe('a worker reads a job', () => {
    const good = { protocol: QUEUE_PROTOCOL, fingerprint: fp, matrix, cell: cell.id };

    it('takes a well-formed job: the cell re-expanded from the validated matrix', () => {
      const r = cellOfJob(job(good));
      expect(r.cell.id).to.equal(cell.id);
      expect(r.cell.scenario).to.deep.equal(cell.scenario);
      expect(r.fingerprint).to.equal(fp);
    });

    it('refuses, naming the job and what is wrong, every malformed one', () => {
      const refused = (j: ReturnType<typeof job>): string => {
        try {
          cellOfJob(j);
        } catch (err) {
          expect((err as Error).name).to.equal('UnrecoverableError');
          return (err as Error).message;
        }
        throw new Error('not refused');
      };
      const id = jobIdOf(fp, cell.id);
      expect(refused(job(good, id, 'other'))).to.equal(`job ${id}: refused: not a cell job (name "other", expected cell)`);
      expect(refused(job({ ...good, protocol: 2 }))).to.match(/refused: protocol 2, this worker speaks 1/);
      expect(refused(job(null))).to.match(/refused: protocol undefined/);
      expect(refused(job({ ...good, extra: 1 }))).to.match(/refused: malformed payload: Unrecognized key: "extra"/);
      expect(refused(job({ ...good, matrix: { ...matrix, seeds: [] } }))).to.match(/refused: its matrix does not validate: matrix: seeds/);
      expect(refused(job({ ...good, matrix: { ...matrix, seeds: [1, 2, 3] } }))).to.match(/refused: its matrix's fingerprint is [0-9a-f]{16}, not the [0-9a-f]{16} it claims/);
      expect(refused(job(good, jobIdOf(fp, other.id)))).to.equal(`job ${jobIdOf(fp, other.id)}: refused: its id should be ${id}`);
      expect(refused(job({ ...good, cell: 'fedavg__none__f0__s9' }, jobIdOf(fp, 'fedavg__none__f0__s9')))).to.match(/refused: matrix protocol has no cell fedavg__none__f0__s9/);
    });
  });

  describe('the submitter writes a result', () => {
    let result: CellResult;
    let scenarioText: string;
    before(async () => {
      await initBackend({ backend: 'wasm', quiet: true });
      const run = path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-qp-')), 'run');
      await runCell(cell, run, { datasets: new Map([['synthetic', makeSyntheticDataset({ count: 200, testCount: 40, seed: 9 })]]), resume: false, log: () => undefined });
      result = { protocol: QUEUE_PROTOCOL, fingerprint: fp, cell: cell.id, worker: 'w', files: packRunDir(run) };
      scenarioText = JSON.stringify(await prepareScenario(cell.scenario), null, 2) + '\n';
    });
    const fresh = (): string => mkdtempSync(path.join(os.tmpdir(), 'rfl-qp-out-'));
    const file = (name: string, content: string) => ({
      name,
      bytes: Buffer.byteLength(content),
      sha256: 'c'.repeat(64),
      gzipBase64: gzipSync(content).toString('base64'),
    });
    const refusedIn = (out: string, raw: unknown): string => {
      try {
        writeCellOnce(out, cell, fp, scenarioText, raw);
      } catch (err) {
        expect(err).to.be.instanceOf(CellResultError);
        // Nothing reached the matrix directory.
        expect(existsSync(path.join(out, 'cells', cell.id))).to.equal(false);
        return (err as Error).message;
      }
      throw new Error('not refused');
    };

    it('writes a cell once, as the run left it (results.json names no run directory); a second result is dropped', () => {
      const out = fresh();
      expect(writeCellOnce(out, cell, fp, scenarioText, result)).to.deep.equal({ outcome: 'written', worker: 'w' });
      const dir = path.join(out, 'cells', cell.id);
      expect(readdirSync(dir).sort()).to.deep.equal(result.files.map((f) => f.name).sort());
      const results = JSON.parse(readFileSync(path.join(dir, 'results.json'), 'utf8')) as Record<string, unknown>;
      expect(results).to.not.have.property('runDir');
      const before = statSync(path.join(dir, 'results.json')).mtimeMs;
      expect(writeCellOnce(out, cell, fp, scenarioText, result)).to.deep.equal({ outcome: 'duplicate', worker: 'w' });
      expect(statSync(path.join(dir, 'results.json')).mtimeMs).to.equal(before);
      expect(existsSync(path.join(out, '.incoming')) ? readdirSync(path.join(out, '.incoming')) : []).to.deep.equal([]);
    });

    it('refuses a malformed or foreign result, naming the cell and the problem, and writes nothing', () => {
      const out = fresh();
      expect(refusedIn(out, 'garbage')).to.match(new RegExp(`^cell ${cell.id}: the result is malformed \\(.*\\); nothing written$`));
      expect(refusedIn(out, { ...result, files: [...result.files, file('../escape', 'x')] })).to.match(/the result is malformed \(files\.\d+\.name: a plain file name/);
      expect(refusedIn(out, { ...result, files: [...result.files, file('.hidden', 'x')] })).to.match(/files\.\d+\.name: a plain file name/);
      expect(refusedIn(out, { ...result, cell: other.id })).to.match(/is for cell fedavg__none__f0__s2 of matrix [0-9a-f]{16}, not for this one/);
      expect(refusedIn(out, { ...result, fingerprint: '0'.repeat(16) })).to.match(/not for this one/);
      const tampered = result.files.map((f) => (f.name === 'results.json' ? { ...f, sha256: '0'.repeat(64) } : f));
      expect(refusedIn(out, { ...result, files: tampered })).to.match(/file results\.json: its SHA-256 differs from the declared one; nothing written$/);
      const inflated = result.files.map((f) => (f.name === 'rounds.jsonl' ? { ...f, bytes: 3 } : f));
      expect(refusedIn(out, { ...result, files: inflated })).to.match(/file rounds\.jsonl: does not decompress to its declared 3 bytes/);
      expect(refusedIn(out, { ...result, files: result.files.filter((f) => f.name !== 'metrics.jsonl') })).to.match(/lacks metrics\.jsonl; nothing written$/);
      expect(refusedIn(out, { ...result, files: result.files.map((f) => (f.name === 'scenario.json' ? { ...f, ...fileOf('scenario.json', '{}\n') } : f)) })).to.match(/ran another scenario/);
      expect(refusedIn(out, { ...result, files: result.files.map((f) => (f.name === 'results.json' ? { ...f, ...fileOf('results.json', '{"scenario": 1}') } : f)) })).to.match(
        /results\.json: scenario: /,
      );
      expect(refusedIn(out, { ...result, files: result.files.map((f) => (f.name === 'rounds.jsonl' ? { ...f, ...fileOf('rounds.jsonl', '{"round": "one"}\n') } : f)) })).to.match(
        /rounds\.jsonl line 1 is not a round record/,
      );
    });
  });

  it('reports a lost link once, after the given silence, and its return once, on an injected clock', async () => {
    let now = 0;
    let tick: () => void = () => undefined;
    const clock = { now: () => now, every: (_ms: number, f: () => void) => ((tick = f), { stop: () => undefined }) };
    let answer: (() => void) | undefined;
    const lines: string[] = [];
    let backs = 0;
    const m = new LinkMonitor({
      ping: () => new Promise<void>((resolve) => (answer = resolve)),
      target: 'redis://q:1',
      lostAfterMs: 2000,
      log: (l) => lines.push(l),
      onBack: () => backs++,
      clock,
    });
    m.start();
    const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
    tick(); // a PING at 0, answered at 1000
    now = 1000;
    answer!();
    await settle();
    tick(); // the next PING goes out at 1000 and is not answered
    now = 2900;
    tick();
    expect(lines).to.deep.equal([]);
    expect(m.noteError(new Error('connect ECONNREFUSED'))).to.equal(true);
    now = 3100;
    tick();
    tick();
    expect(lines).to.deep.equal(['queue: no answer from redis://q:1 for 2.1 s (last error: connect ECONNREFUSED); waiting for it to come back: the run continues then, and nothing is lost meanwhile']);
    expect(m.lost).to.equal(true);
    // While the link is reported lost, connection errors are the lost line's business, not the caller's.
    expect(m.noteError(new Error('connect ECONNREFUSED'))).to.equal(false);
    now = 7600;
    answer!();
    await settle();
    expect(lines[1]).to.equal('queue: redis://q:1 answers again after 6.6 s without; continuing');
    expect(lines).to.have.length(2);
    expect(backs).to.equal(1);
    expect(m.lost).to.equal(false);
  });

  it('checks --queue URLs and hides their passwords', () => {
    const t = parseRedisTarget('redis://:s3cret@10.0.0.1:6380/2');
    expect(t.shown).to.equal('redis://:***@10.0.0.1:6380/2');
    expect(t.connection).to.include({ host: '10.0.0.1', port: 6380, db: 2, password: 's3cret', maxRetriesPerRequest: null });
    expect(parseRedisTarget('redis://queue.lab').connection).to.include({ host: 'queue.lab', port: 6379, db: 0 });
    expect(() => parseRedisTarget('http://x:1')).to.throw(/--queue http:\/\/x:1: expected a redis:\/\/ or rediss:\/\/ URL, got http:\/\//);
    expect(() => parseRedisTarget('10.0.0.1:6379')).to.throw(/expected a redis:\/\/ or rediss:\/\/ URL|not a URL/);
    expect(() => parseRedisTarget('redis://h:1/99')).to.throw(/the database \/99 is not an integer in \[0, 15\]/);
  });

  it('shows cells done, running (with the worker and round) and queued', () => {
    const p = new QueueProgress(5);
    p.done = 1;
    p.running.set('b', { worker: 'host2:7', round: 2, rounds: 3 });
    p.running.set('a', { worker: 'host1:9', round: 0, rounds: 3 });
    expect(p.line()).to.equal('queue: 1/5 done, 2 running (a on host1:9 starting; b on host2:7 round 2/3), 2 queued');
  });
});

/** A result file whose declared size and SHA-256 match `content`. */
function fileOf(name: string, content: string): { name: string; bytes: number; sha256: string; gzipBase64: string } {
  return { name, bytes: Buffer.byteLength(content), sha256: createHash('sha256').update(content).digest('hex'), gzipBase64: gzipSync(content).toString('base64') };
}
