/**
 * The processor file a queue worker gives BullMQ's sandbox (`useWorkerThreads`): it runs on a worker thread of the
 * worker process, with the worker's settings as the thread's workerData, and processes one cell per job
 * (cell-processor.ts). Loading it warms the thread up first (warm-up.ts), unless the settings say not to: the
 * worker starts this thread before it takes a cell (worker.ts), so the warm-up is done before any cell waits.
 */
import { workerData } from 'node:worker_threads';
import type { CellResult } from './protocol.js';
import { processCell, type CellJobLike, type CellProcessorSettings } from './cell-processor.js';
import { warmUpCellThread } from './warm-up.js';

const settings = workerData as CellProcessorSettings;
if (settings.warmUp !== false) {
  // A failed warm-up costs the first cell its head start, nothing more: the worker still takes cells.
  try {
    const ms = await warmUpCellThread(settings);
    console.error(
      `worker ${settings.name}: warmed up in ${(ms / 1000).toFixed(1)} s (a tiny simulation of ${settings.workers ?? 'one per core'} thread(s), so the first cell finds the backend and a pool of threads started)`,
    );
  } catch (err) {
    console.error(`worker ${settings.name}: the warm-up failed (${(err as Error).message}); the first cell starts cold`);
  }
}

/** BullMQ's sandboxed processor. */
export default function process(job: CellJobLike): Promise<CellResult> {
  return processCell(job, settings);
}
