/**
 * The coordinator's share of mask expansion: removing the survivors' self masks and the dropped clients' pairwise
 * masks from a secure sum (docs/spec/secure-aggregation.md §4.4). At SecAgg+ scale this dominates the coordinator:
 * at n = 1,000, d = 10^6 and 30 % dropout it is about 1.4·10^10 PRG words, some 40 s on one core. The jobs are
 * independent and their sum is commutative mod 2^32, so a large batch is split across worker threads (piscina),
 * each returning one partial sum; a small one, where a thread's start-up would cost more than it saves, stays on
 * the calling thread. The result is the same either way, word for word.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { wipe } from '../shared/secagg/keys.js';
import { addMasks, type MaskTerm } from '../shared/secagg/prg.js';
import type { MaskSlice } from './mask-expansion-worker.js';

/** One mask to add: target ← target + sign·PRG(key) mod 2^32 (its key is a secret: the caller wipes it after `apply`). */
export type MaskJob = MaskTerm;

/** Options of `MaskExpander`. */
export interface MaskExpanderOptions {
  /**
   * Worker threads for large batches (integer ≥ 0; 0 or 1 keeps everything on the calling thread). Default: the
   * machine's available parallelism, at most 16.
   */
  threads?: number;
  /** Batches of fewer mask words than this (jobs × vector length) stay on the calling thread. Default 2^25 (≈ 0.1 s). */
  minParallelWords?: number;
}

const WORKER_URL = new URL('./mask-expansion-worker.js', import.meta.url);

/** Expands batches of masks into a vector, on worker threads when the batch is large. */
export class MaskExpander {
  readonly threads: number;
  private readonly minParallelWords: number;
  private pool: Piscina | undefined;

  constructor(opts: MaskExpanderOptions = {}) {
    const threads = opts.threads ?? Math.min(16, os.availableParallelism());
    if (!Number.isInteger(threads) || threads < 0) throw new RangeError(`MaskExpander threads must be an integer ≥ 0, got ${String(threads)}`);
    // A bundled coordinator without the worker file (one-file builds) expands on its own thread.
    this.threads = WORKER_URL.protocol === 'file:' && existsSync(fileURLToPath(WORKER_URL)) ? threads : 0;
    this.minParallelWords = opts.minParallelWords ?? 2 ** 25;
  }

  /** target ← target + Σ_j sign_j·PRG(key_j) mod 2^32. */
  async apply(target: Uint32Array, jobs: readonly MaskJob[]): Promise<void> {
    const words = jobs.length * target.length;
    if (this.threads <= 1 || jobs.length < 2 || words < this.minParallelWords) {
      addMasks(target, jobs);
      return;
    }
    this.pool ??= new Piscina({ filename: WORKER_URL.href, minThreads: 0, maxThreads: this.threads, idleTimeout: 30_000 });
    const slices = Math.min(this.threads, jobs.length);
    const per = Math.ceil(jobs.length / slices);
    const partials = await Promise.all(
      Array.from({ length: slices }, (_, s) => {
        const part = jobs.slice(s * per, (s + 1) * per);
        const keys = new Uint8Array(32 * part.length);
        part.forEach((j, i) => keys.set(j.key, 32 * i));
        const slice: MaskSlice = { length: target.length, keys, signs: Int8Array.from(part, (j) => j.sign) };
        // The worker gets a copy (it wipes it); this one is wiped once the slice is done.
        return (this.pool!.run(slice) as Promise<Uint32Array>).finally(() => wipe(keys));
      }),
    );
    for (const p of partials) for (let i = 0; i < target.length; i++) target[i] = target[i]! + p[i]!;
  }

  /** Stops the worker threads (idempotent). */
  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.destroy();
  }
}
