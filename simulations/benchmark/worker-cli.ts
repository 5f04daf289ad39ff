/**
 * `rfl benchmark worker --queue redis://host:port [--queue-name NAME] [--workers N] [--name TEXT] [--lock-s S]
 * [--stalled-check-s S] [--max-stalled N] [--unreachable-after-s S] [--backend NAME] [--no-warm-up]`
 *
 * A worker of distributed benchmark matrices (queue/worker.ts): runs the cells `rfl benchmark --queue` submits,
 * one at a time, until stopped. SIGINT or SIGTERM stops it after the cell it is running; a second one stops it at
 * once (that cell's lock then expires, and another worker runs it from its start). docs/distributed.md.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend, type BackendName } from '../../shared/compute/backend.js';
import { intFlag, numberFlag } from '../../shared/util/flags.js';
import { UsageError } from '../../shared/util/usage-error.js';
import { DEFAULT_QUEUE_NAME } from './queue/protocol.js';
import { parseRedisTarget } from './queue/redis-target.js';
import { startCellWorker } from './queue/worker.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/benchmark.ts). */
export const OPTIONS = {
  queue: { type: 'string' },
  'queue-name': { type: 'string', default: DEFAULT_QUEUE_NAME },
  workers: { type: 'string' },
  name: { type: 'string' },
  'lock-s': { type: 'string', default: '30' },
  'stalled-check-s': { type: 'string', default: '30' },
  'max-stalled': { type: 'string', default: '2' },
  'unreachable-after-s': { type: 'string', default: '10' },
  backend: { type: 'string' },
  'no-warm-up': { type: 'boolean' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). Resolves once the worker stopped. */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  if (values.queue === undefined) throw new UsageError('--queue: give the Redis that holds the queue, e.g. --queue redis://10.0.0.1:6379 (docs/distributed.md)', ['queue']);
  const target = parseRedisTarget(values.queue);
  const lockMs = 1000 * numberFlag('lock-s', values['lock-s'], 1, 86400);
  const stalledCheckMs = 1000 * numberFlag('stalled-check-s', values['stalled-check-s'], 0.1, 86400);
  const maxStalled = intFlag('max-stalled', values['max-stalled'], 1);
  const lostAfterMs = 1000 * numberFlag('unreachable-after-s', values['unreachable-after-s'], 0.5, 86400);
  const workers = values.workers !== undefined ? intFlag('workers', values.workers, 1) : undefined;
  // The cells compute on the worker's sandbox thread; this line names the backend they will pick, before any runs.
  await initBackend(values.backend !== undefined ? { backend: values.backend as BackendName } : {});
  const worker = await startCellWorker({
    target,
    queueName: values['queue-name']!,
    lockMs,
    stalledCheckMs,
    maxStalled,
    lostAfterMs,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(values.backend !== undefined ? { backend: values.backend as BackendName } : {}),
    warmUp: values['no-warm-up'] !== true,
  });
  await new Promise<void>((resolve) => {
    let signals = 0;
    const stop = (signal: string): void => {
      signals++;
      if (signals > 1) {
        console.error(`worker ${worker.name}: ${signal} again: stopping now${worker.current() !== undefined ? `; job ${worker.current()} will run again on another worker` : ''}`);
        process.exit(130);
      }
      const job = worker.current();
      console.error(`worker ${worker.name}: ${signal}: ${job !== undefined ? `finishing job ${job}, then stopping (${signal} again to stop now)` : 'stopping'}`);
      void worker.close().then(resolve, resolve);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
  });
  console.error(`worker ${worker.name}: stopped`);
}
