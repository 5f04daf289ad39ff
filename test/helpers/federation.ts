/**
 * A coordinator and in-process clients over real socket.io connections on port 0, for end-to-end tests.
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type nacl from 'tweetnacl';
import { Coordinator, type CoordinatorOptions } from '../../server/coordinator.js';
import { connect, type ClientSession } from '../../client/session.js';
import { LocalTrainer } from '../../client/trainer.js';
import { identityKeyPair } from '../../shared/secagg/keys.js';
import { partition, sampleSharedSet } from '../../shared/data/partition.js';
import type { DatasetSplit } from '../../shared/data/dataset.js';
import type { FederatedConfigInput } from '../../shared/federated/config.js';
import { clientIdOf } from '../../shared/federated/secure-model.js';

/** A running federation. */
export interface Federation {
  coordinator: Coordinator;
  /** The clients' identity keys (reuse them to reconnect to a resumed coordinator). */
  keys: nacl.SignKeyPair[];
  url: string;
  clients: ClientSession[];
  trainers: LocalTrainer[];
  ids: string[];
  runDir: string;
  close: () => Promise<void>;
}

/** Starts a coordinator and `n` clients holding the IID parts of `data.train` (D_s excluded, as the runner). */
export async function startFederation(
  data: DatasetSplit,
  federated: FederatedConfigInput & { numClients: number; seed: number },
  extra: Partial<CoordinatorOptions> = {},
  connectClients = true,
  identities?: nacl.SignKeyPair[],
): Promise<Federation> {
  const runDir = extra.runDir ?? mkdtempSync(path.join(os.tmpdir(), 'rfl-run-'));
  const shared = sampleSharedSet(data.train.count, federated.sharedSetSize ?? 64, federated.seed);
  const parts = partition(data.train.labels, { kind: 'iid' }, federated.numClients, federated.seed, shared);
  const ids = parts.map((_, k) => clientIdOf(k));
  const keys = identities ?? ids.map(() => identityKeyPair());
  // The clients are enrolled (server/enrolment.ts), so they count as distinct principals although they share the
  // token; a test adds its hand-driven clients with coordinator.enrol, or passes `enrolment: undefined` for open
  // enrolment.
  const enrolment = new Map(ids.map((id, k) => [id, keys[k]!.publicKey]));
  const coordinator = new Coordinator({ federated, data, tokens: new Set(['secret']), runDir, log: () => undefined, enrolment, ...extra });
  const port = await coordinator.listen(0);
  const url = `http://127.0.0.1:${port}`;
  const trainers = parts.map((p) => new LocalTrainer(data.train, p));
  const clients: ClientSession[] = [];
  if (connectClients) {
    for (let k = 0; k < ids.length; k++) {
      const c = connect(url, { clientId: ids[k]!, token: 'secret', identity: keys[k]!, trainer: trainers[k]!, rounding: 'half-up', reconnection: false });
      clients.push(c);
    }
    await Promise.all(clients.map((c) => c.ready));
  }
  return {
    coordinator,
    url,
    clients,
    trainers,
    ids,
    runDir,
    keys,
    close: async () => {
      for (const c of clients) c.close();
      await coordinator.close();
      for (const t of trainers) t.dispose();
    },
  };
}
