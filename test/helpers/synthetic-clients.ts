/**
 * Edge clients in this process for tests that run the coordinator as a real child process: the built-in
 * `synthetic` dataset (which the coordinator loads by name), each client's IID part with the coordinator's shared
 * set excluded, an identity key per client, and the sessions once connected.
 */
import { loadDataset } from '../../shared/data/index.js';
import { partition, sampleSharedSet } from '../../shared/data/partition.js';
import { identityKeyPair } from '../../shared/secagg/keys.js';
import { clientIdOf } from '../../shared/federated/secure-model.js';
import { connect, type ClientSession } from '../../client/session.js';
import { LocalTrainer } from '../../client/trainer.js';
import type nacl from 'tweetnacl';

export interface SyntheticClients {
  ids: string[];
  keys: nacl.SignKeyPair[];
  /** Client id → identity public key, for an enrolment file. */
  enrolment: Map<string, Uint8Array>;
  /** Connects every client to `url` (half-up rounding, reconnection on); close them with `close`. */
  connect: (url: string) => ClientSession[];
  close: () => void;
}

/** `n` clients of the seed's partition, as the coordinator of `federated` draws its shared set. */
export function syntheticClients(n: number, federated: { sharedSetSize: number; seed: number }): SyntheticClients {
  const data = loadDataset('synthetic');
  const shared = sampleSharedSet(data.train.count, federated.sharedSetSize, federated.seed);
  const parts = partition(data.train.labels, { kind: 'iid' }, n, federated.seed, shared);
  const ids = parts.map((_, k) => clientIdOf(k));
  const keys = ids.map(() => identityKeyPair());
  const trainers = parts.map((p) => new LocalTrainer(data.train, p));
  const sessions: ClientSession[] = [];
  return {
    ids,
    keys,
    enrolment: new Map(ids.map((id, k) => [id, keys[k]!.publicKey])),
    connect: (url) => {
      sessions.push(...ids.map((id, k) => connect(url, { clientId: id, token: 'none', identity: keys[k]!, trainer: trainers[k]!, rounding: 'half-up' })));
      return sessions;
    },
    close: () => {
      for (const s of sessions) s.close();
      for (const t of trainers) t.dispose();
    },
  };
}
