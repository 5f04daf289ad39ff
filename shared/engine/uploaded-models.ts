/**
 * What plaintext strategies share: the trained weights of a reply, and the Decent_BVA ensemble over the uploaded
 * models (decent-bva.md §4: the coordinator holds the client models in plaintext mode; the BV statistics still go
 * through the sum interface, so secure aggregation can replace the sums).
 */
import { plaintextEnsemble } from '../defense/bva-attack.js';
import type { FederatedConfig } from '../federated/config.js';
import { clientSeed } from '../federated/seeds.js';
import { Model, type ModelSpec } from '../models/model.js';
import type { AggregateOutcome, TrainedClient } from './strategy.js';

/** A plaintext client's trained weights (a plaintext strategy asks for them, so the transport checked them). */
export function uploadedWeights(c: TrainedClient): Float32Array {
  const w = c.reply.weightsF32;
  if (w === undefined) throw new Error(`${c.id}: a plaintext round needs the trained weights, and the reply has none`);
  return w;
}

/**
 * The ensemble of the round's uploaded models, each client's probes seeded by its round seed (as the client itself
 * seeds them in secure mode). `emulateQuantization` runs the sums through the secure quantiser (the runner's
 * `emulateSecure`). The models live until `release`.
 */
export function uploadedModelsEnsemble(spec: ModelSpec, trained: readonly TrainedClient[], config: FederatedConfig, round: number, emulateQuantization = false): AggregateOutcome {
  const models = trained.map((c) => new Model(spec, uploadedWeights(c)));
  const ensemble = plaintextEnsemble(
    models,
    {},
    {
      clientSeeds: trained.map((c) => clientSeed(config.seed, round, c.id)),
      ...(emulateQuantization ? { emulateQuantization: { nMax: trained.length } } : {}),
    },
  );
  return { ensemble, release: () => models.forEach((m) => m.dispose()) };
}
