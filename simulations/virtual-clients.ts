/**
 * Virtual clients: each a real client session (client/session.ts) over socket.io with its own identity, whose
 * compute goes to a simulation pool (`PooledTrainer`) and whose corruption, if any, follows the run's plan
 * (`CorruptedTrainer`, the session's `beforeReply`). The simulation engine connects every client of a run this
 * way; a client host (hosts/client-host.ts) connects its share of them, against the same coordinator.
 */
import { createHash } from 'node:crypto';
import nacl from 'tweetnacl';
import { connect, type ClientSession } from '../client/session.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { CodedError, peerErrorCode } from '../shared/errors/catalogue.js';
import type { AdaptiveAdversary } from './behaviors/index.js';
import { CorruptedTrainer } from './corrupted-trainer.js';
import type { CorruptionPlan } from './corruption-plan.js';
import type { HonestOracle } from './honest-oracle.js';
import type { SimulationPool } from './pool/pool.js';
import { PooledTrainer } from './pooled-trainer.js';

/**
 * A virtual client's identity key pair, derived from the run seed and its id rather than drawn at random, so a
 * resumed run's clients prove the same keys the coordinator's registry bound, and a client host proves the keys the
 * coordinator enrolled. (They are simulated clients; an edge client's key is its own, from `rfl coordinator enrol`.)
 */
export function virtualIdentity(seed: number, id: string): nacl.SignKeyPair {
  return identityKeyPair(createHash('sha256').update(`robust-fl/virtual-client-identity/v1/${seed}/${id}`).digest());
}

/** Options of `connectVirtualClients`. */
export interface VirtualClientsOptions {
  url: string;
  token: string;
  /** The run seed (identities derive from it). */
  seed: number;
  /** The clients to connect: id, and index k (client k holds partition k of the pool's data). */
  clients: readonly { id: string; index: number }[];
  pool: SimulationPool;
  plan: CorruptionPlan;
  oracle?: HonestOracle;
  adaptive?: AdaptiveAdversary;
  log: (line: string) => void;
}

/** Clients connected at once; the next batch waits until these are admitted. */
const CONNECT_BATCH = 100;

/**
 * Connects the clients, in batches; resolves once the coordinator admitted every one (their identity proven). If
 * one fails (refused, unreachable), every session opened so far is closed before the error is thrown, so a failed
 * connection leaves no socket behind.
 */
export async function connectVirtualClients(o: VirtualClientsOptions): Promise<Map<string, ClientSession>> {
  const sessions = new Map<string, ClientSession>();
  try {
    await connectInBatches(o, sessions);
  } catch (err) {
    for (const s of sessions.values()) s.close();
    throw err;
  }
  return sessions;
}

async function connectInBatches(o: VirtualClientsOptions, sessions: Map<string, ClientSession>): Promise<void> {
  for (let s = 0; s < o.clients.length; s += CONNECT_BATCH) {
    const batch = o.clients.slice(s, s + CONNECT_BATCH).map(({ id, index }) => {
      const trainer = new CorruptedTrainer(new PooledTrainer(o.pool, index, (round) => o.plan.poisonFor(id, round)), id, o.plan, o.oracle, o.adaptive);
      const session = connect(o.url, {
        clientId: id,
        token: o.token,
        identity: virtualIdentity(o.seed, id),
        trainer,
        rounding: 'half-up',
        reconnection: false,
        beforeReply: o.plan.beforeReply(id),
        log: (l) => o.log(`${id}: ${l}`),
      });
      sessions.set(id, session);
      return session.ready;
    });
    await Promise.all(batch);
  }
}

/** Reconnects a client that disconnected on purpose, resolving once the coordinator has it again. */
export function rejoin(s: ClientSession): Promise<void> {
  if (s.socket.connected) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    // The coordinator has it again once the identity proof is accepted, not at the transport's 'connect'.
    s.socket.once('auth:accepted', () => resolve());
    s.socket.once('auth:refused', (msg) => reject(new CodedError(peerErrorCode(msg.code, 'auth'), `rejoin refused: ${msg.code}: ${msg.message}`)));
    s.socket.once('connect_error', (err) => reject(err));
    s.socket.connect();
  });
}
