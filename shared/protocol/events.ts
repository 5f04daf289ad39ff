/**
 * The coordinator ↔ client wire protocol over socket.io: one source of truth for event names, payloads and the
 * protocol version (architecture.md, "Wire protocol"). Every step the coordinator drives is an acknowledged
 * request (`emitWithAck` with a per-stage timeout); every inbound payload passes a validator in
 * `schemas.ts` before use; tensors and masked vectors travel as bytes (`wire.ts`).
 */
import type { WireError } from './errors.js';
import type { ErrorCode } from '../errors/catalogue.js';
import type { Packed } from './wire.js';
import type { Stage, StageReply, StageRequest } from '../secagg/messages.js';
import type { LocalAdversarialSpec } from '../attacks/adversarial-training.js';

/** Bumped on any incompatible change; checked at the handshake. */
export const PROTOCOL_VERSION = 5;

/** The handshake's `auth` object a client sends. */
export interface HelloAuth {
  protocolVersion: number;
  clientId: string;
  token: string;
  /** Ed25519 identity public key (32 bytes), bound to the client id at first join; hex in the handshake. */
  identityPk: Uint8Array;
}

/** `auth:challenge`: a fresh nonce for the client to sign (hex: the handshake layer is JSON). */
export interface IdentityChallenge {
  nonce: string;
}

/** The answer to `auth:challenge`: the Ed25519 signature of the proof (identity-proof.ts), hex. */
export interface IdentityProof {
  signature: string;
}

/** An acknowledgement: a reply, or a typed error. */
export type Ack<R> = { ok: true; reply: R } | { ok: false; error: WireError };

/** Local training options sent with `round:train`. */
export interface TrainSpec {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  seed: number;
  sharedLossWeight: number;
  /** Local adversarial training (EAT, PGD-AT, TRADES; shared/attacks/adversarial-training.ts), absent otherwise. */
  adversarial?: LocalAdversarialSpec;
}

/** `round:train`: the global model (and the shared set) to train from. */
export interface TrainRequest {
  round: number;
  model: string;
  /** Flat global weights (float32 bytes). */
  weights: Uint8Array;
  /** The perturbed shared set D̂_s (float32 image bytes, uint8 labels), absent in round 1 and for fedavg. */
  sharedSet?: { x: Uint8Array; labels: Uint8Array };
  train: TrainSpec;
  /** Plaintext mode: return the trained weights in the reply. */
  returnWeights: boolean;
}

/** Reply to `round:train`. */
export interface TrainReply {
  numExamples: number;
  loss: number;
  /** Plaintext mode only: trained weights (float32 bytes). */
  weights?: Uint8Array;
}

/** The event of a secure-aggregation stage: `secagg:setup`, `secagg:shareKeys`, … */
export type StageEvent<S extends Stage = Stage> = `secagg:${S}`;

/**
 * A client's listener for stage S: the packed request, and the acknowledgement that carries the packed reply or a
 * typed refusal.
 */
export type StageListener<S extends Stage> = (req: Packed<StageRequest<S>>, ack: (res: Packed<Ack<StageReply<S>>>) => void) => void;

/** One event per secure-aggregation stage, each typed by its request and reply (secagg/messages.ts StageMessages). */
export type StageEvents = { [S in Stage as StageEvent<S>]: StageListener<S> };

/** `round:end`: the round is over; clients drop the round's model and secrets. */
export interface RoundEnd {
  round: number;
  status: 'completed' | 'aborted';
  reason?: string;
}

/** `auth:refused`: why the coordinator refuses this connection (a catalogued code, and a message naming the problem). */
export interface AuthRefused {
  code: ErrorCode;
  message: string;
}

/** `run:end`: every round is done. */
export interface RunEnd {
  /** The rounds the run completed. */
  rounds: number;
}

/**
 * Events the coordinator sends. Requests and acknowledgements travel packed (`wire.ts` `pack`: a JSON skeleton
 * and one binary blob): `round:train` carries a TrainRequest and is answered with an Ack<TrainReply>; each
 * `secagg:<stage>` carries that stage's request and is answered with an Ack of its reply (StageEvents).
 */
export interface ServerToClientEvents extends StageEvents {
  /**
   * Sent on every connection before anything else: the client proves its identity key by signing the nonce
   * (identity-proof.ts). Until the proof checks out the connection is in no cohort; a wrong or late proof ends it.
   */
  'auth:challenge': (msg: IdentityChallenge, ack: (res: IdentityProof) => void) => void;
  /** The proof checked out: the connection is bound to its identity (and replaced any older one of it). */
  'auth:accepted': () => void;
  /** The connection is refused (bad proof, no proof in time, key bound to another identity); it is then closed. */
  'auth:refused': (msg: AuthRefused) => void;
  'round:train': (req: Packed<TrainRequest>, ack: (res: Packed<Ack<TrainReply>>) => void) => void;
  'round:end': (msg: RoundEnd) => void;
  /** The run is over (all rounds done); clients may disconnect. */
  'run:end': (msg: RunEnd, ack: () => void) => void;
}

/**
 * Events a client may send: none. A client speaks only in acknowledgements to the coordinator's requests (and in
 * the handshake's `auth`), so the type admits no event name at all; the coordinator refuses and logs anything a
 * hostile client emits anyway.
 */
export type ClientToServerEvents = Record<never, never>;

/** Per-connection data the coordinator keeps. */
export interface SocketData {
  clientId: string;
  /** The identity key the handshake claimed; bound to the id once the client proved it (identity-proof.ts). */
  identityPk: Uint8Array;
  /** SHA-256 of the token the connection presented (server/registry.ts), for open enrolment's accounting. */
  tokenDigest: string;
}

/** Default per-stage timeouts in milliseconds (secure-aggregation.md §6; training gets its own). */
export const DEFAULT_TIMEOUTS_MS: Record<'auth' | 'train' | Stage, number> = {
  /** Answering the identity challenge: one signature. */
  auth: 10_000,
  train: 600_000,
  setup: 30_000,
  shareKeys: 30_000,
  /** Opening the share boxes (one X25519 and one AEAD open per neighbour). */
  checkBoxes: 30_000,
  collectMasked: 60_000,
  consistency: 30_000,
  unmask: 30_000,
  reshare: 30_000,
};

/**
 * socket.io's message cap (default 1 MB) sized from the largest message a round can carry: the model as float32
 * plus the shared set, or a BV vector (n_s·(C + d) words), whichever is larger, twice over plus 1 MB of slack.
 */
export function maxMessageBytes(numParams: number, sharedSetFloats: number, bvaWords: number): number {
  return 2 * 4 * Math.max(numParams + sharedSetFloats, bvaWords + sharedSetFloats) + (1 << 20);
}
