/**
 * The processor file a queue worker gives BullMQ's sandbox (`useWorkerThreads`): it runs on a worker thread of the
 * worker process, with the worker's settings as the thread's workerData, and processes one cell per job
 * (cell-processor.ts).
 */
import { workerData } from 'node:worker_threads';
import type { CellResult } from './protocol.js';
import { processCell, type CellJobLike, type CellProcessorSettings } from './cell-processor.js';

/** BullMQ's sandboxed processor. */
export default function process(job: CellJobLike): Promise<CellResult> {
  return processCell(job, workerData as CellProcessorSettings);
}
