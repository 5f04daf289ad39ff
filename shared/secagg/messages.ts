/**
 * The secure-aggregation messages as plain objects, one request and one reply type per stage
 * (docs/spec/secure-aggregation.md §4), and the stage transition table that both sides check.
 *
 * Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017
 * (arXiv 1611.04482), §4 (the four rounds of the protocol; `consistency` is their round 3 in the active model).
 * The transport (socket.io, or direct calls in tests) only carries these objects.
 */
import type { VectorSpec } from './quantize.js';
import type { ThreatModel } from './graph.js';

export type { ThreatModel };

/** The stages, in protocol order. */
export const STAGES = ['setup', 'shareKeys', 'checkBoxes', 'collectMasked', 'consistency', 'unmask', 'reshare'] as const;
/** A stage name. */
export type Stage = (typeof STAGES)[number];

/** Which stages may follow each stage within a round (`start` = before the round's first request). */
export const NEXT_STAGES: Record<Stage | 'start', readonly Stage[]> = {
  start: ['setup'],
  setup: ['shareKeys'],
  // The share boxes are opened and any complaint settled before anything is masked (§6.1).
  shareKeys: ['checkBoxes'],
  checkBoxes: ['collectMasked'],
  // collectMasked of a sum is followed by its consistency check (active model) or its unmasking; an abandoned
  // attempt (a later-sum drop) is followed by reshare.
  collectMasked: ['consistency', 'unmask', 'reshare'],
  consistency: ['unmask', 'reshare'],
  // After unmasking, the next sum starts.
  unmask: ['collectMasked'],
  reshare: ['collectMasked'],
};

/** Graph of a round: every member masks with everyone, or SecAgg+'s Harary graph of even degree k. */
export type GraphSpec = { kind: 'complete' } | { kind: 'harary'; degree: number };

/** Every request carries this envelope; the client checks it against its round state. */
export interface Envelope {
  runId: Uint8Array;
  round: number;
  stage: Stage;
  /** The sum ('model', 'bva/<l>/p1', …), or '' for round-wide stages. */
  phase: string;
  /** Attempt of the sum, from 0. */
  attempt: number;
  /** Known from `shareKeys` on. */
  sessionId?: Uint8Array;
}

/** A planned sum of the round: its phase name and vector layout. */
export interface PlannedSum {
  phase: string;
  spec: VectorSpec;
}

/** `setup` request: the cohort and the round's parameters. */
export interface SetupRequest {
  env: Envelope;
  cohort: string[];
  threshold: number;
  threatModel: ThreatModel;
  graph: GraphSpec;
  plannedSums: PlannedSum[];
  /**
   * Enrolled identity public keys of the cohort, as the coordinator registered them. Honest-but-curious clients
   * verify advertisements against these; against an active coordinator, clients pin identities out of band.
   */
  identities?: { clientId: string; identityPk: Uint8Array }[];
}
/** `setup` reply: the round keys, signed with the client's identity key. */
export interface SetupReply {
  cPk: Uint8Array;
  sPk: Uint8Array;
  signature: Uint8Array;
}

/** A signed key advertisement, as forwarded to every member. */
export interface Advertisement {
  clientId: string;
  cPk: Uint8Array;
  sPk: Uint8Array;
  signature: Uint8Array;
}

/** `shareKeys` request: the advertisements of U1. */
export interface ShareKeysRequest {
  env: Envelope;
  advertisements: Advertisement[];
}
/** One encrypted share box. */
export interface ShareBox {
  /** Sender (in replies' `boxes`: recipient) client id. */
  peer: string;
  nonce: Uint8Array;
  box: Uint8Array;
}
/** Commitment to a self-mask seed: SHA-256 of the seed of one (phase, attempt). */
export interface Commitment {
  phase: string;
  attempt: number;
  hash: Uint8Array;
}
/** `shareKeys` and `reshare` reply: a box per recipient (peer = recipient) and signed commitments. */
export interface ShareKeysReply {
  boxes: ShareBox[];
  commitments: Commitment[];
  commitSignature: Uint8Array;
}

/** `checkBoxes` request: the share boxes addressed to this client (peer = sender), from shareKeys. */
export interface CheckBoxesRequest {
  env: Envelope;
  inbox: ShareBox[];
}
/**
 * `checkBoxes` reply: the senders whose boxes did not open. A complaint carries its proof, the client's round
 * secret key c (its public half was advertised), with which the coordinator opens the boxes itself and finds who
 * lied; the client then leaves the key agreement, which is never used to mask anything (§6.1). The signature
 * covers (sessionId, sorted `failed`); in the active model the coordinator forwards the clean ones (`boxChecks`).
 */
export interface CheckBoxesReply {
  failed: string[];
  cSk?: Uint8Array;
  signature: Uint8Array;
}
/** A client's signed clean box check (no complaint), forwarded in the active model. */
export interface BoxCheck {
  clientId: string;
  signature: Uint8Array;
}

/** `collectMasked` request. */
export interface CollectMaskedRequest {
  env: Envelope;
  /** The sum's cohort C. */
  cohort: string[];
  /** Boxes addressed to this client (peer = sender) after a reshare. */
  inbox?: ShareBox[];
  /**
   * Active model, the round's first sum: the signed clean box checks of the key agreement's members. A client
   * masks only if every neighbour that sent it a box signed one: a complaint reveals that neighbour's inbox, one
   * share of each of its neighbours' secrets, so a key agreement with a complaint must never be used.
   */
  boxChecks?: BoxCheck[];
  spec: VectorSpec;
  /** Sum-specific data for the client's computation (e.g. a Decent_BVA probe); opaque to the protocol. */
  payload?: unknown;
}
/** `collectMasked` reply: the masked vector and the senders whose boxes did not open. */
export interface CollectMaskedReply {
  y: Uint32Array;
  failedBoxes: string[];
}

/** `consistency` request (active model): U3. */
export interface ConsistencyRequest {
  env: Envelope;
  u3: string[];
}
/** `consistency` reply: a signature over (sessionId, phase, attempt, sorted U3). */
export interface ConsistencyReply {
  signature: Uint8Array;
}

/** `unmask` request. */
export interface UnmaskRequest {
  env: Envelope;
  alive: string[];
  dropped: string[];
  /** Active model: the consistency signatures collected (clientId → signature). */
  signatures?: { clientId: string; signature: Uint8Array }[];
}
/** `unmask` reply: self-mask shares of alive members, mask-key shares of dropped ones. */
export interface UnmaskReply {
  selfShares: { clientId: string; share: Uint8Array }[];
  skShares: { clientId: string; share: Uint8Array }[];
}

/** `reshare` request: a new attempt of a sum over a smaller cohort. */
export interface ReshareRequest {
  env: Envelope;
  cohort: string[];
}

/**
 * Each stage's request and reply: the one table from which the wire events (protocol/events.ts), the validators
 * (protocol/schemas.ts), the coordinator's stage sender and the client's stage machine are all typed, so a request
 * of one stage can never be sent as, or answered as, another's.
 */
export interface StageMessages {
  setup: { request: SetupRequest; reply: SetupReply };
  shareKeys: { request: ShareKeysRequest; reply: ShareKeysReply };
  checkBoxes: { request: CheckBoxesRequest; reply: CheckBoxesReply };
  collectMasked: { request: CollectMaskedRequest; reply: CollectMaskedReply };
  consistency: { request: ConsistencyRequest; reply: ConsistencyReply };
  unmask: { request: UnmaskRequest; reply: UnmaskReply };
  reshare: { request: ReshareRequest; reply: ShareKeysReply };
}
/** The request of stage S. */
export type StageRequest<S extends Stage> = StageMessages[S]['request'];
/** The reply to stage S. */
export type StageReply<S extends Stage> = StageMessages[S]['reply'];
