/**
 * An in-memory client that trains by adding a fixed delta and answers the secure-aggregation stages with the real
 * client stage machine (client/secagg-client.ts), as client/session.ts does over socket.io: a machine per
 * key agreement, the model update Δ = w_k − w_t as the `model` sum's input.
 */
import type nacl from 'tweetnacl';
import { SecAggClientRound } from '../../client/secagg-client.js';
import { NO_REPLY, type InMemoryClient } from '../../shared/engine/in-memory-transport.js';
import type { Stage } from '../../shared/secagg/messages.js';
import { toWire } from '../../shared/protocol/wire.js';

/** A client with update Δ = `delta` in every coordinate; `silentAt` never answers that stage. */
export function secureInMemoryClient(id: string, identity: nacl.SignKeyPair, peers: ReadonlyMap<string, Uint8Array>, delta: number, silentAt?: Stage): InMemoryClient {
  let machine: SecAggClientRound | undefined;
  let update: Float32Array | undefined;
  return {
    async train(req) {
      update = new Float32Array(req.weightsF32.length).fill(delta);
      return { numExamples: 1, loss: delta, ...(req.returnWeights ? { weights: toWire(req.weightsF32.map((v) => v + delta)) } : {}) };
    },
    async stage(stage, request) {
      if (stage === silentAt) return NO_REPLY;
      const env = request.env;
      if (stage === 'setup') {
        machine?.dispose();
        machine = new SecAggClientRound(
          { clientId: id, identity, peerIdentity: (p) => peers.get(p), input: () => [update ?? new Float32Array(0)], rounding: 'half-up' },
          Uint8Array.from(env.runId),
          env.round,
        );
      }
      if (machine === undefined) throw new Error(`${id}: ${stage} before setup`);
      return machine.handle(stage, request);
    },
    roundEnd() {
      machine?.dispose();
      machine = undefined;
    },
  };
}
