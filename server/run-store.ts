/**
 * The run directory: the checkpoint after every completed round, the per-round metrics as JSON lines, and the
 * identity registry.
 *
 * A checkpoint is one file, `checkpoint.bin`:
 *
 *   robust-fl-checkpoint/3 <sha256 of everything after this line, hex>\n
 *   <header JSON: round, sizes, run id, configuration, the rule state's description>\n
 *   <weights, then the perturbed shared set, as little-endian float32; then the rule state>
 *
 * The rule state is what a stateful aggregation rule (centered clipping's centre, FoolsGold's per-client
 * histories) kept after the round, in binary, as rule-state-codec.ts lays it out; a resumed run aggregates with
 * it exactly as the uninterrupted run does.
 *
 * It is written to a temporary file, fsync'ed, then renamed over the last one, which is first kept as
 * `checkpoint.prev.bin`; the directory is fsync'ed after the renames. A coordinator killed at any moment, or a
 * machine losing power, leaves a whole checkpoint of the last or the one before. The parts are hashed and
 * written one by one, so a large FoolsGold state is never copied into one buffer. Loading checks the checksum,
 * the header's schema (zod), that the header's format is the first line's, and that every value is finite (the
 * weights and the shared set also within ±1e10); any failure is a CheckpointError that names the file and what
 * is wrong, never a silently accepted model. Format 2 files (no rule state) and format 1 files (no checksum
 * either) still load, checked the same way otherwise; they give `ruleState: undefined`, and a resumed stateful
 * rule then starts afresh (the coordinator logs it).
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { storedConfigSchema, type FederatedConfig, type FederatedConfigInput } from '../shared/federated/config.js';
import { CheckpointError } from './checkpoint-error.js';
import { decodeRuleState, describeRuleStateBytes, encodeRuleState, ruleStateBytes, ruleStateHeaderSchema, type AggregationState } from './rule-state-codec.js';
import { messageOf, systemCodeOf } from '../shared/errors/catalogue.js';

export { CheckpointError } from './checkpoint-error.js';

/** Everything needed to continue a run after the last completed round. */
export interface Checkpoint {
  round: number;
  weights: Float32Array;
  /** D̂_s made in the last completed round, if any. */
  shared: Float32Array | undefined;
  config: FederatedConfig;
  /** The run id that binds every round's secure-aggregation session. */
  runId: Uint8Array;
  /**
   * The aggregation's state across rounds after `round`: null when the run's aggregation keeps none; undefined
   * when read from a format 1 or 2 file, which did not save it (saved as null).
   */
  ruleState?: AggregationState | null;
  /** The file's format (set when read; a save always writes the current one). */
  format?: 1 | 2 | 3;
}

/**
 * A checkpoint as read back: its configuration is what the file holds, typed as an input (a file written before a
 * field existed lacks it); resume re-resolves it (resume-check.ts).
 */
export type StoredCheckpoint = Omit<Checkpoint, 'config'> & { config: FederatedConfigInput };

/** The largest magnitude a stored weight or shared-set value may have. */
export const MAX_ABS_VALUE = 1e10;

const MAGIC_V3 = 'robust-fl-checkpoint/3';
const MAGIC_V2 = 'robust-fl-checkpoint/2';
const MAGIC_V1 = 'robust-fl-checkpoint/1';

const headerSchema = z.object({
  format: z.enum([MAGIC_V1, MAGIC_V2, MAGIC_V3]),
  round: z.number().int().min(1),
  weights: z.number().int().min(1),
  shared: z.number().int().min(0),
  runId: z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 lowercase hex digits (a 16-byte run id)'),
  config: storedConfigSchema,
  randomState: z.object({ seed: z.number(), nextRound: z.number().int() }).optional(),
  savedAt: z.string().optional(),
  // Required in format 3 (checked after parsing); formats 1 and 2 have none.
  ruleState: ruleStateHeaderSchema.optional(),
});

/** Reads and writes one run directory. */
export class RunStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Path of the identity registry. */
  identitiesPath(): string {
    return path.join(this.dir, 'identities.json');
  }

  /** Path of the current checkpoint. */
  checkpointPath(): string {
    return path.join(this.dir, 'checkpoint.bin');
  }

  /** Path of the checkpoint before it. */
  previousCheckpointPath(): string {
    return path.join(this.dir, 'checkpoint.prev.bin');
  }

  /** Whether the directory holds a checkpoint. */
  hasCheckpoint(): boolean {
    return existsSync(this.checkpointPath());
  }

  /** Writes the checkpoint atomically and durably, keeping the previous one as checkpoint.prev.bin. */
  saveCheckpoint(c: Checkpoint): void {
    const rules = encodeRuleState(c.ruleState ?? null, c.weights.length);
    const header = {
      format: MAGIC_V3,
      round: c.round,
      weights: c.weights.length,
      shared: c.shared?.length ?? 0,
      runId: Buffer.from(c.runId).toString('hex'),
      config: c.config,
      // The random state: every draw derives from (seed, round, purpose) by forking, so the round number and
      // the seed (in config) are the whole state.
      randomState: { seed: c.config.seed, nextRound: c.round + 1 },
      savedAt: new Date().toISOString(),
      ruleState: rules.header,
    };
    const parts: Uint8Array[] = [
      Buffer.from(JSON.stringify(header) + '\n'),
      new Uint8Array(c.weights.buffer, c.weights.byteOffset, c.weights.byteLength),
      ...(c.shared !== undefined ? [new Uint8Array(c.shared.buffer, c.shared.byteOffset, c.shared.byteLength)] : []),
      ...rules.parts,
    ];
    const hash = createHash('sha256');
    for (const p of parts) hash.update(p);
    const digest = hash.digest('hex');
    const file = this.checkpointPath();
    const tmp = `${file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeAll(fd, Buffer.from(`${MAGIC_V3} ${digest}\n`));
      for (const p of parts) writeAll(fd, p);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // The current file stays in place until the rename replaces it (a crash between the steps leaves a
    // checkpoint.bin): the previous one is kept by a second link, not by moving it away.
    if (existsSync(file)) {
      rmSync(this.previousCheckpointPath(), { force: true });
      linkSync(file, this.previousCheckpointPath());
    }
    renameSync(tmp, file);
    syncDirectory(this.dir);
  }

  /** The last checkpoint, or undefined when the directory has none; a CheckpointError when it cannot be trusted. */
  loadCheckpoint(): StoredCheckpoint | undefined {
    const file = this.checkpointPath();
    if (!existsSync(file)) return undefined;
    return readCheckpoint(file);
  }

  /** Appends one JSON line to metrics.jsonl. */
  appendMetrics(record: object): void {
    appendFileSync(path.join(this.dir, 'metrics.jsonl'), JSON.stringify(record) + '\n');
  }
}

/** Reads and checks one checkpoint file (see the module comment). */
export function readCheckpoint(file: string): StoredCheckpoint {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    throw new CheckpointError(file, `cannot read it (${systemCodeOf(err) ?? messageOf(err)})`);
  }
  let content = buf;
  const first = buf.indexOf(0x0a);
  if (first < 0) throw new CheckpointError(file, 'not a checkpoint (no header line)');
  const line = buf.subarray(0, first).toString('utf8');
  const magic = [MAGIC_V3, MAGIC_V2].find((m) => line.startsWith(`${m} `));
  if (magic !== undefined) {
    content = buf.subarray(first + 1);
    const digest = createHash('sha256').update(content).digest('hex');
    if (line.slice(magic.length + 1) !== digest)
      throw new CheckpointError(file, 'checksum mismatch: the file is corrupt or was changed after it was written (checkpoint.prev.bin beside it holds the round before)');
  } else if (!line.startsWith(`{"format":"${MAGIC_V1}"`)) {
    throw new CheckpointError(file, `not a checkpoint (it starts ${JSON.stringify(line.slice(0, 40))})`);
  }
  const nl = content.indexOf(0x0a);
  let raw: unknown;
  try {
    raw = JSON.parse(content.subarray(0, nl).toString('utf8'));
  } catch (err) {
    throw new CheckpointError(file, `header is not JSON (${messageOf(err)})`);
  }
  const parsed = headerSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new CheckpointError(file, `header field "${issue.path.join('.')}": ${issue.message}`);
  }
  const header = parsed.data;
  // The checksum line and the header agree on the format, so a format 3 body is never read by format 2's rules.
  const format = magic ?? MAGIC_V1;
  if (header.format !== format) throw new CheckpointError(file, `header field "format": ${header.format} in a file whose first line says ${format}`);
  if (format === MAGIC_V3 && header.ruleState === undefined) throw new CheckpointError(file, 'header field "ruleState": required in format 3 (null when the aggregation keeps no state)');
  if (format !== MAGIC_V3 && header.ruleState !== undefined) throw new CheckpointError(file, `header field "ruleState": not part of format ${format}`);
  const rounds = header.config.rounds;
  if (rounds !== undefined && header.round > rounds) throw new CheckpointError(file, `header field "round": ${header.round} is past the configured ${rounds} rounds`);
  const body = content.subarray(nl + 1);
  const ruleHeader = header.ruleState ?? null;
  const floatBytes = 4 * (header.weights + header.shared);
  const expected = floatBytes + ruleStateBytes(ruleHeader);
  if (body.byteLength !== expected) {
    throw new CheckpointError(
      file,
      `${body.byteLength < expected ? 'truncated' : 'trailing bytes'}: ${body.byteLength} bytes of data for ${header.weights} weights and ${header.shared} shared-set values` +
        `${describeRuleStateBytes(ruleHeader)}, which take ${expected}`,
    );
  }
  const floats = new Float32Array(header.weights + header.shared);
  new Uint8Array(floats.buffer).set(body.subarray(0, floatBytes));
  // Finite, and within a bound no trained model reaches (a diverged run or a forged file otherwise).
  const bad = floats.findIndex((v) => !Number.isFinite(v) || Math.abs(v) > MAX_ABS_VALUE);
  if (bad >= 0) {
    const what = bad < header.weights ? `weight ${bad}` : `shared-set value ${bad - header.weights}`;
    throw new CheckpointError(
      file,
      Number.isFinite(floats[bad]!)
        ? `${what} is ${floats[bad]}, beyond ±${MAX_ABS_VALUE}: not a trained model's (diverged, or forged)`
        : `${what} is ${floats[bad]}: a checkpoint holds finite values only`,
    );
  }
  return {
    round: header.round,
    weights: floats.slice(0, header.weights),
    shared: header.shared > 0 ? floats.slice(header.weights) : undefined,
    config: header.config,
    runId: Uint8Array.from(Buffer.from(header.runId, 'hex')),
    format: format === MAGIC_V3 ? 3 : format === MAGIC_V2 ? 2 : 1,
    ...(format === MAGIC_V3 ? { ruleState: decodeRuleState(file, ruleHeader, body.subarray(floatBytes), header.weights) } : {}),
  };
}

/** writeSync until every byte of `data` is written (a single call may write fewer). */
function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.byteLength;) at += writeSync(fd, data, at, data.byteLength - at);
}

/** fsync of a directory, so renames in it survive a power loss (a no-op where the platform refuses it). */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms cannot open or fsync a directory; the file itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
