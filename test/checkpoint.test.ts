/**
 * Checkpoints are checksummed, schema-validated and finite-checked, written atomically with
 * the previous one kept; a bad checkpoint is a CheckpointError naming the file; `rfl coordinator --resume` takes
 * the checkpoint's configuration, names a conflicting flag, and refuses a directory without a checkpoint.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointError, readCheckpoint, RunStore, type Checkpoint } from '../server/run-store.js';
import { resolveConfig } from '../shared/federated/config.js';
import { rewriteCheckpoint as rewrite } from './helpers/checkpoint-files.js';

const config = resolveConfig({ method: 'fedavg', numClients: 3, fraction: 1, rounds: 5, seed: 1 });
const checkpoint = (round: number, fill = 0.5): Checkpoint => ({ round, weights: new Float32Array(10).fill(fill), shared: new Float32Array(4).fill(0.25), config, runId: new Uint8Array(16).fill(7) });

describe('checkpoints', () => {
  const fresh = (): RunStore => new RunStore(mkdtempSync(path.join(os.tmpdir(), 'rfl-ckpt-')));
  const problem = (file: string): string => {
    try {
      readCheckpoint(file);
    } catch (err) {
      expect(err).to.be.instanceOf(CheckpointError);
      expect((err as Error).message.startsWith(`${file}: `), (err as Error).message).to.equal(true);
      return (err as Error).message.slice(file.length + 2);
    }
    return 'accepted';
  };

  it('round-trips, and keeps the previous checkpoint beside the current one', () => {
    const s = fresh();
    s.saveCheckpoint(checkpoint(1, 0.1));
    s.saveCheckpoint(checkpoint(2, 0.2));
    const cur = s.loadCheckpoint()!;
    expect(cur.round).to.equal(2);
    expect(Array.from(cur.weights)).to.deep.equal(Array.from(new Float32Array(10).fill(0.2)));
    expect(Array.from(cur.shared!)).to.deep.equal([0.25, 0.25, 0.25, 0.25]);
    expect(readCheckpoint(s.previousCheckpointPath()).round).to.equal(1);
    expect(existsSync(`${s.checkpointPath()}.tmp`)).to.equal(false);
  });

  it('refuses a corrupt byte, a NaN or huge weight, a bad round, a bad run id and a truncated file, naming the file', () => {
    const cases: [string, (h: Record<string, unknown>, b: Buffer) => Buffer | void, RegExp, boolean?][] = [
      ['flipped byte', (_h, b) => void (b[3] ^= 0xff), /checksum mismatch/, true],
      ['NaN weight', (_h, b) => void b.writeFloatLE(NaN, 4 * 7), /weight 7 is NaN: a checkpoint holds finite values only/],
      ['infinite weight', (_h, b) => void b.writeFloatLE(Infinity, 0), /weight 0 is Infinity: a checkpoint holds finite values only/],
      ['round 0', (h) => void (h['round'] = 0), /header field "round": .*>=\s*1|header field "round": .*greater than or equal to 1/i],
      ['round -3', (h) => void (h['round'] = -3), /header field "round"/],
      ['round "2"', (h) => void (h['round'] = '2'), /header field "round": .*expected number/i],
      ['round 99', (h) => void (h['round'] = 99), /header field "round": 99 is past the configured 5 rounds/],
      ['run id', (h) => void (h['runId'] = 'zz'), /header field "runId": expected 32 lowercase hex digits/],
      ['truncated', (_h, b) => b.subarray(0, 12), /truncated: 12 bytes of data for 10 weights and 4 shared-set values/],
    ];
    for (const [name, edit, expected, keepDigest] of cases) {
      const s = fresh();
      s.saveCheckpoint(checkpoint(2));
      rewrite(s.checkpointPath(), edit, keepDigest === true);
      expect(problem(s.checkpointPath()), name).to.match(expected);
    }
    // Weights of 1e30, even checksummed: finite, but no trained model's.
    const s = fresh();
    s.saveCheckpoint({ ...checkpoint(2), weights: new Float32Array(10).fill(1e30) });
    expect(problem(s.checkpointPath())).to.match(/^weight 0 is 1\.00000001504746\d*e\+30, beyond ±10000000000: not a trained model's/);
    // Not a checkpoint at all.
    const junk = path.join(s.dir, 'junk.bin');
    writeFileSync(junk, 'hello\nworld');
    expect(problem(junk)).to.match(/^not a checkpoint/);
  });

  describe('rfl coordinator --resume', () => {
    const rfl = (...args: string[]) => spawnSync(process.execPath, [path.resolve('dist/cli/rfl.js'), ...args], { encoding: 'utf8', timeout: 60000, env: { ...process.env, RFL_BACKEND: 'cpu' } });

    it('refuses a directory without a checkpoint, and a flag that conflicts with the checkpoint, naming it', () => {
      const empty = mkdtempSync(path.join(os.tmpdir(), 'rfl-noresume-'));
      const r = rfl('coordinator', '--resume', empty, '--tokens', 'a');
      expect(r.status).to.equal(2);
      expect(r.stderr.trim()).to.equal(`UsageError: --resume ${empty}: no checkpoint.bin there, so nothing to resume; start a run with --run-dir ${empty}`);
      const missing = path.join(empty, 'nope');
      expect(rfl('coordinator', '--resume', missing, '--tokens', 'a').stderr).to.match(/no checkpoint\.bin there/);
      expect(existsSync(missing), 'a refused --resume creates nothing').to.equal(false);

      const dir = path.join(empty, 'run');
      mkdirSync(dir);
      new RunStore(dir).saveCheckpoint(checkpoint(2));
      const c = rfl('coordinator', '--resume', dir, '--tokens', 'a', '--rounds', '9');
      expect(c.status).to.equal(2);
      expect(c.stderr.trim()).to.equal("UsageError: --rounds 9 conflicts with the checkpoint's rounds = 5: a resumed run keeps its configuration (drop --rounds)");
      rewrite(new RunStore(dir).checkpointPath(), (_h, b) => void (b[0] ^= 1), true);
      const bad = rfl('coordinator', '--resume', dir, '--tokens', 'a');
      expect(bad.status).to.equal(2);
      expect(bad.stderr.trim()).to.match(/^CheckpointError: .*checkpoint\.bin: checksum mismatch/);
    });
  });
});
