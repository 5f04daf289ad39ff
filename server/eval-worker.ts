/**
 * Worker thread of WorkerEvaluator (worker-evaluator.ts): takes the evaluation setup once (workerData), loads the
 * compute backend, then answers each { round, weights } with the accuracies or an error message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { evaluateWeights, type EvaluationSetup } from '../shared/federated/evaluation.js';

const setup = workerData as EvaluationSetup & { backend?: BackendName };
await initBackend({ quiet: true, ...(setup.backend !== undefined ? { backend: setup.backend } : {}) });
parentPort!.postMessage({ ready: true });
parentPort!.on('message', (msg: { id: number; round: number; weights: Float32Array }) => {
  try {
    parentPort!.postMessage({ id: msg.id, ok: true, result: evaluateWeights(setup, msg.round, msg.weights) });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: (err as Error).message });
  }
});
