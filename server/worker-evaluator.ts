/**
 * Evaluation off the event loop: a worker thread (eval-worker.ts) that holds the test set and the backend and
 * evaluates one set of weights at a time. The coordinator's event loop keeps answering sockets meanwhile, so a
 * long evaluation (strong PGD on 10,000 images) no longer outlasts socket.io's ping window and drops clients.
 */
import { Worker } from 'node:worker_threads';
import type { BackendName } from '../shared/compute/backend.js';
import type { EvaluationSetup } from '../shared/federated/evaluation.js';

export class WorkerEvaluator {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Record<string, number>) => void; reject: (e: Error) => void }>();
  private next = 0;
  private readonly started: Promise<void>;

  constructor(setup: EvaluationSetup, backend?: BackendName) {
    // The test set is copied once into the worker.
    this.worker = new Worker(new URL('./eval-worker.js', import.meta.url), { workerData: { ...setup, ...(backend !== undefined ? { backend } : {}) } });
    let markReady: () => void = () => undefined;
    let failStart: (e: Error) => void = () => undefined;
    this.started = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failStart = reject;
    });
    this.started.catch(() => undefined);
    this.worker.on('message', (msg: { id: number; ok: boolean; result?: Record<string, number>; error?: string; ready?: boolean }) => {
      if (msg.ready === true) {
        markReady();
        return;
      }
      const p = this.pending.get(msg.id);
      if (p === undefined) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result!);
      else p.reject(new Error(`evaluation failed: ${msg.error}`));
    });
    this.worker.on('error', (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      failStart(e);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    });
    // Idle between evaluations without keeping the process alive.
    this.worker.unref();
  }

  /** Resolves once the worker has loaded its backend (rejects if it could not start). */
  ready(): Promise<void> {
    return this.started;
  }

  /** Accuracies of `weights` at `round` (the weights are copied to the worker). */
  evaluate(round: number, weights: Float32Array): Promise<Record<string, number>> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, round, weights });
    });
  }

  /** Stops the worker. */
  async close(): Promise<void> {
    await this.worker.terminate();
  }
}
