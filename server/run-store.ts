/**
 * The run directory: the checkpoint after every completed round (written to a temporary file, then renamed, so
 * a coordinator killed at any moment leaves the previous checkpoint intact and loses at most the round in
 * progress), the per-round metrics as JSON lines, and the identity registry.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { FederatedConfig } from '../shared/federated/config.js';

/** Everything needed to continue a run after the last completed round. */
export interface Checkpoint {
  round: number;
  weights: Float32Array;
  /** D̂_s made in the last completed round, if any. */
  shared: Float32Array | undefined;
  config: FederatedConfig;
  /** The run id that binds every round's secure-aggregation session. */
  runId: Uint8Array;
}

/** Reads and writes one run directory. */
export class RunStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Path of the identity registry. */
  identitiesPath(): string {
    return path.join(this.dir, 'identities.json');
  }

  /** Writes the checkpoint atomically (one file: JSON header line, then the raw float32 arrays). */
  saveCheckpoint(c: Checkpoint): void {
    const header = {
      format: 'robust-fl-checkpoint/1',
      round: c.round,
      weights: c.weights.length,
      shared: c.shared?.length ?? 0,
      runId: Buffer.from(c.runId).toString('hex'),
      config: c.config,
      // The random state: every draw derives from (seed, round, purpose) by forking, so the round number and
      // the seed (in config) are the whole state.
      randomState: { seed: c.config.seed, nextRound: c.round + 1 },
      savedAt: new Date().toISOString(),
    };
    const head = Buffer.from(JSON.stringify(header) + '\n');
    const body = Buffer.concat([Buffer.from(c.weights.buffer, c.weights.byteOffset, c.weights.byteLength), ...(c.shared !== undefined ? [Buffer.from(c.shared.buffer, c.shared.byteOffset, c.shared.byteLength)] : [])]);
    const file = path.join(this.dir, 'checkpoint.bin');
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, Buffer.concat([head, body]));
    renameSync(tmp, file);
  }

  /** The last checkpoint, or undefined when the directory has none. */
  loadCheckpoint(): Checkpoint | undefined {
    const file = path.join(this.dir, 'checkpoint.bin');
    if (!existsSync(file)) return undefined;
    const buf = readFileSync(file);
    const nl = buf.indexOf(0x0a);
    const header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as { format: string; round: number; weights: number; shared: number; runId: string; config: FederatedConfig };
    if (header.format !== 'robust-fl-checkpoint/1') throw new Error(`${file}: unknown checkpoint format ${header.format}`);
    const body = buf.subarray(nl + 1);
    if (body.byteLength !== 4 * (header.weights + header.shared)) throw new Error(`${file}: truncated (${body.byteLength} bytes of data)`);
    const floats = new Float32Array(header.weights + header.shared);
    new Uint8Array(floats.buffer).set(body);
    return {
      round: header.round,
      weights: floats.slice(0, header.weights),
      shared: header.shared > 0 ? floats.slice(header.weights) : undefined,
      config: header.config,
      runId: Uint8Array.from(Buffer.from(header.runId, 'hex')),
    };
  }

  /** Appends one JSON line to metrics.jsonl. */
  appendMetrics(record: object): void {
    appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
  }
}
