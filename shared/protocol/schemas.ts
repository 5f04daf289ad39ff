/**
 * Runtime validation of every inbound payload, both directions (zod). A payload that fails gets a
 * `ProtocolError` naming the field; nothing downstream ever sees an unchecked message. Binary fields are
 * rebuilt here from bytes into the typed arrays the stage machines expect.
 */
import { z } from 'zod';
import { ProtocolError, type WireError } from './errors.js';
import { f32FromWire, u32FromWire } from './wire.js';
import type { BvaProbe } from '../defense/bva-vectors.js';
import type { LocalAdversarialSpec } from '../attacks/adversarial-training.js';
import { INTERNAL_ERROR_CODE, peerErrorCode } from '../errors/catalogue.js';
import {
  PROTOCOL_VERSION,
  type Ack,
  type AuthRefused,
  type HelloAuth,
  type IdentityChallenge,
  type IdentityProof,
  type RoundEnd,
  type RunEnd,
  type TrainReply,
  type TrainRequest,
  type TrainSpec,
} from './events.js';
import {
  STAGES,
  type Envelope,
  type CheckBoxesReply,
  type CheckBoxesRequest,
  type CollectMaskedReply,
  type CollectMaskedRequest,
  type ConsistencyReply,
  type ConsistencyRequest,
  type ReshareRequest,
  type SetupReply,
  type SetupRequest,
  type ShareKeysReply,
  type ShareKeysRequest,
  type Stage,
  type StageReply,
  type StageRequest,
  type UnmaskReply,
  type UnmaskRequest,
} from '../secagg/messages.js';
import { vectorLength } from '../secagg/quantize.js';
import { fromHex } from '../secagg/encoding.js';

const bytes = (len?: number, max = 1 << 30) =>
  z.custom<Uint8Array>((v) => v instanceof Uint8Array && (len === undefined ? v.byteLength <= max : v.byteLength === len), {
    message: len === undefined ? `expected binary data of at most ${max} bytes` : `expected ${len} bytes of binary data`,
  });
const id = z.string().min(1).max(256);
const int = z.number().int().nonnegative();
const finite = z.number().finite();

/** Parses with a schema; a failure becomes a ProtocolError naming the path and the problem. */
export function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const path = issue.path.length > 0 ? `.${issue.path.join('.')}` : '';
    throw new ProtocolError('bad-payload', `${what}${path}: ${issue.message}`);
  }
  return r.data;
}

/** The handshake auth object: a HelloAuth whose key travels as hex (the handshake is JSON, no binary). */
export const helloSchema = z.object({
  protocolVersion: z.number(),
  clientId: id.regex(/^[A-Za-z0-9._:-]+$/, 'client ids are letters, digits and . _ : -'),
  token: z.string().min(1).max(4096),
  identityPk: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (a 32-byte Ed25519 key)'),
}) satisfies z.ZodType<Omit<HelloAuth, 'identityPk'> & { identityPk: string }>;

/** The coordinator's identity challenge (hex: the handshake layer is JSON). */
export const identityChallengeSchema = z.object({ nonce: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits (a 32-byte nonce)') }).strict() satisfies z.ZodType<IdentityChallenge>;
/** A client's answer to the identity challenge. */
export const identityProofSchema = z
  .object({ signature: z.string().regex(/^[0-9a-f]{128}$/, 'expected 128 lowercase hex digits (a 64-byte Ed25519 signature)') })
  .strict() satisfies z.ZodType<IdentityProof>;

/** Validates a client's answer to the identity challenge; returns the signature bytes. */
export function parseIdentityProof(v: unknown): Uint8Array {
  return fromHex(parse(identityProofSchema, v, 'identity proof').signature);
}

/** Validates the coordinator's identity challenge; returns the nonce bytes. */
export function parseIdentityChallenge(v: unknown): Uint8Array {
  return fromHex(parse(identityChallengeSchema, v, 'identity challenge').nonce);
}

/** Validates the handshake; throws ProtocolError('version' | 'bad-payload'). */
export function parseHello(v: unknown): HelloAuth {
  const h = parse(helloSchema, v, 'handshake');
  if (h.protocolVersion !== PROTOCOL_VERSION) {
    throw new ProtocolError('version', `protocol version ${h.protocolVersion} is not supported; this coordinator speaks version ${PROTOCOL_VERSION}`);
  }
  return { ...h, identityPk: fromHex(h.identityPk) };
}

const trainSpec = z.object({
  epochs: z.number().int().min(1).max(10_000),
  batchSize: z.number().int().min(1).max(100_000),
  lr: finite.positive(),
  momentum: z.number().min(0).lt(1),
  seed: int,
  sharedLossWeight: finite.nonnegative(),
  adversarial: z
    .object({
      attack: z.enum(['fgsm', 'pgd', 'trades']),
      eps: z.number().min(0).max(1),
      steps: z.number().int().min(1).max(1000).optional(),
      alpha: finite.positive().max(1).optional(),
      loss: z.enum(['clean+adv', 'adv', 'trades']),
      beta: finite.nonnegative().max(1000).optional(),
      craftMode: z.enum(['eval', 'train']).optional(),
      clip: z.enum(['unit', 'batch']).optional(),
    })
    .strict()
    // The pairings checkLocalAdversarial enforces, so a bad combination is refused at the wire, not mid-training.
    .refine((a) => a.attack === 'fgsm' || a.steps !== undefined, { message: 'pgd and trades need steps', path: ['steps'] })
    .refine((a) => (a.attack === 'trades') === (a.loss === 'trades') && (a.loss !== 'trades' || a.beta !== undefined), {
      message: 'loss "trades" goes exactly with attack "trades" and needs beta',
      path: ['loss'],
    })
    .refine((a) => a.attack === 'fgsm' || a.alpha !== undefined || a.eps > 0, { message: 'pgd and trades need eps > 0 or an explicit alpha', path: ['eps'] })
    .refine((a) => a.attack !== 'trades' || a.craftMode !== 'train', { message: 'trades crafts in eval mode only', path: ['craftMode'] })
    .optional() satisfies z.ZodType<LocalAdversarialSpec | undefined>,
}) satisfies z.ZodType<TrainSpec>;

const trainRequestSchema = z.object({
  round: z.number().int().min(1),
  model: id,
  weights: bytes(),
  sharedSet: z.object({ x: bytes(), labels: bytes() }).optional(),
  train: trainSpec,
  returnWeights: z.boolean(),
}) satisfies z.ZodType<TrainRequest>;

/** A `round:train` request as the client uses it: its float32 fields rebuilt from their bytes. */
export type DecodedTrainRequest = TrainRequest & { weightsF32: Float32Array; sharedF32?: Float32Array };

/** Client side: a `round:train` request with the weights decoded (length checked by the caller). */
export function parseTrainRequest(v: unknown): DecodedTrainRequest {
  const r: TrainRequest = parse(trainRequestSchema, v, 'round:train');
  const weightsF32 = f32FromWire(r.weights, 'round:train.weights');
  if (r.sharedSet === undefined) return { ...r, weightsF32 };
  const sharedF32 = f32FromWire(r.sharedSet.x, 'round:train.sharedSet.x');
  if (sharedF32.length % r.sharedSet.labels.byteLength !== 0) {
    throw new ProtocolError('bad-shape', `round:train.sharedSet: ${sharedF32.length} floats do not split into ${r.sharedSet.labels.byteLength} images`);
  }
  return { ...r, weightsF32, sharedF32 };
}

/** The most examples one client may claim (weighting caps at maxWeight anyway; beyond this a claim is a lie). */
export const MAX_CLAIMED_EXAMPLES = 100_000_000;
/** The largest training loss a reply may report (cross-entropy of a diverged model stays far below). */
export const MAX_REPORTED_LOSS = 1e6;
const trainReplySchema = z.object({ numExamples: int.max(MAX_CLAIMED_EXAMPLES), loss: finite.min(0).max(MAX_REPORTED_LOSS), weights: bytes().optional() }) satisfies z.ZodType<TrainReply>;

/** Coordinator side: a `round:train` reply, with weights checked against the model size when present. */
export function parseTrainReply(v: unknown, numParams: number, needWeights: boolean): TrainReply & { weightsF32?: Float32Array } {
  const r = parse(trainReplySchema, v, 'round:train reply');
  if (needWeights && r.weights === undefined) throw new ProtocolError('bad-payload', 'round:train reply: weights missing in plaintext mode');
  const weightsF32 = r.weights !== undefined ? f32FromWire(r.weights, 'round:train reply.weights', numParams) : undefined;
  return { ...r, ...(weightsF32 !== undefined ? { weightsF32 } : {}) };
}

// --- secure aggregation ---------------------------------------------------------------------------------------

const envelope = z.object({
  runId: bytes(16),
  round: z.number().int().min(1),
  stage: z.enum(STAGES),
  phase: z.string().max(64),
  attempt: z.number().int().min(0).max(1000),
  sessionId: bytes(32).optional(),
}) satisfies z.ZodType<Envelope>;
const segment = z.object({ name: z.string().min(1).max(64), length: z.number().int().min(1), c: finite.positive(), R: z.number().int().min(1), kind: z.enum(['signed', 'count', 'weight']) });
const spec = z.array(segment).min(1).max(16);
const box = z.object({ peer: id, nonce: bytes(24), box: bytes(undefined, 1 << 16) });
const commitment = z.object({ phase: z.string().max(64), attempt: int, hash: bytes(32) });
const graph = z.union([z.object({ kind: z.literal('complete') }), z.object({ kind: z.literal('harary'), degree: z.number().int().min(2).max(254) })]);
const ids = z.array(id).max(100_000);

const requestSchemas = {
  setup: z.object({
    env: envelope,
    cohort: ids,
    threshold: z.number().int(),
    threatModel: z.enum(['honest-but-curious', 'active']),
    graph,
    plannedSums: z.array(z.object({ phase: z.string().min(1).max(64), spec })).max(1000),
    identities: z
      .array(z.object({ clientId: id, identityPk: bytes(32) }))
      .max(100_000)
      .optional(),
  }) satisfies z.ZodType<SetupRequest>,
  shareKeys: z.object({ env: envelope, advertisements: z.array(z.object({ clientId: id, cPk: bytes(32), sPk: bytes(32), signature: bytes(64) })).max(100_000) }) satisfies z.ZodType<ShareKeysRequest>,
  checkBoxes: z.object({ env: envelope, inbox: z.array(box).max(100_000) }) satisfies z.ZodType<CheckBoxesRequest>,
  collectMasked: z.object({
    env: envelope,
    cohort: ids,
    inbox: z.array(box).optional(),
    boxChecks: z
      .array(z.object({ clientId: id, signature: bytes(64) }))
      .max(100_000)
      .optional(),
    spec,
    payload: z.unknown().optional(),
  }) satisfies z.ZodType<CollectMaskedRequest>,
  consistency: z.object({ env: envelope, u3: ids }) satisfies z.ZodType<ConsistencyRequest>,
  unmask: z.object({ env: envelope, alive: ids, dropped: ids, signatures: z.array(z.object({ clientId: id, signature: bytes(64) })).optional() }) satisfies z.ZodType<UnmaskRequest>,
  reshare: z.object({ env: envelope, cohort: ids }) satisfies z.ZodType<ReshareRequest>,
} satisfies Record<Stage, z.ZodType>;

/** A reference-profile dropout seed: a non-negative 31-bit integer (absent in the default profile). */
const dropoutSeed = z
  .number()
  .int()
  .min(0)
  .max(2 ** 31 - 1)
  .optional();

/** A Decent_BVA probe as it travels: its float fields as bytes (decodeProbe rebuilds them). */
type WireBvaProbe = { [P in BvaProbe as P['kind']]: { [K in keyof P]: P[K] extends Float32Array ? Uint8Array : P[K] } }[BvaProbe['kind']];

const bvaProbe = z.union([
  z.object({ kind: z.literal('bva/p1'), X: bytes(), labels: bytes(), includeP: z.boolean(), includeB: z.boolean(), bias: z.enum(['mean-ce', 'ensemble']), dropoutSeed }),
  z.object({ kind: z.literal('bva/p2'), X: bytes(), omega: bytes(), dropoutSeed }),
]) satisfies z.ZodType<WireBvaProbe>;

/** A collectMasked request's Decent_BVA probe with its floats rebuilt (bva/p1: X; bva/p2: X and ω). */
function decodeProbe(payload: unknown): BvaProbe {
  const p = parse(bvaProbe, payload, 'secagg:collectMasked.payload');
  const X = f32FromWire(p.X, 'payload.X');
  return p.kind === 'bva/p1' ? { ...p, X, labels: Uint8Array.from(p.labels) } : { ...p, X, omega: f32FromWire(p.omega, 'payload.omega') };
}

/** Each stage's request validator (client side); typed by stage, so no caller casts. */
const requestParsers: { [S in Stage]: (v: unknown) => StageRequest<S> } = {
  setup: (v) => parse(requestSchemas.setup, v, 'secagg:setup'),
  shareKeys: (v) => parse(requestSchemas.shareKeys, v, 'secagg:shareKeys'),
  checkBoxes: (v) => parse(requestSchemas.checkBoxes, v, 'secagg:checkBoxes'),
  collectMasked: (v) => {
    const r = parse(requestSchemas.collectMasked, v, 'secagg:collectMasked');
    const { payload, ...rest } = r;
    return payload === undefined ? rest : { ...rest, payload: decodeProbe(payload) };
  },
  consistency: (v) => parse(requestSchemas.consistency, v, 'secagg:consistency'),
  unmask: (v) => parse(requestSchemas.unmask, v, 'secagg:unmask'),
  reshare: (v) => parse(requestSchemas.reshare, v, 'secagg:reshare'),
};

/** Client side: validates a stage's request and rebuilds its typed arrays (a BV probe's floats). */
export function parseStageRequest<S extends Stage>(stage: S, v: unknown): StageRequest<S> {
  return requestParsers[stage](v);
}

const replySchemas = {
  setup: z.object({ cPk: bytes(32), sPk: bytes(32), signature: bytes(64) }) satisfies z.ZodType<SetupReply>,
  shareKeys: z.object({ boxes: z.array(box).max(100_000), commitments: z.array(commitment).max(10_000), commitSignature: bytes(64) }) satisfies z.ZodType<ShareKeysReply>,
  reshare: z.object({ boxes: z.array(box).max(100_000), commitments: z.array(commitment).max(10_000), commitSignature: bytes(64) }) satisfies z.ZodType<ShareKeysReply>,
  checkBoxes: z.object({ failed: ids, cSk: bytes(32).optional(), signature: bytes(64) }) satisfies z.ZodType<CheckBoxesReply>,
  // On the wire y is its bytes; replyParsers.collectMasked rebuilds the Uint32Array.
  collectMasked: z.object({ y: bytes(), failedBoxes: ids }) satisfies z.ZodType<Omit<CollectMaskedReply, 'y'> & { y: Uint8Array }>,
  consistency: z.object({ signature: bytes(64) }) satisfies z.ZodType<ConsistencyReply>,
  unmask: z.object({ selfShares: z.array(z.object({ clientId: id, share: bytes(33) })), skShares: z.array(z.object({ clientId: id, share: bytes(33) })) }) satisfies z.ZodType<UnmaskReply>,
} satisfies Record<Stage, z.ZodType>;

/** Each stage's reply validator (coordinator side), given the request it answers. */
const replyParsers: { [S in Stage]: (v: unknown, req: StageRequest<S>) => StageReply<S> } = {
  setup: (v) => parse(replySchemas.setup, v, 'secagg:setup reply'),
  shareKeys: (v) => parse(replySchemas.shareKeys, v, 'secagg:shareKeys reply'),
  checkBoxes: (v) => parse(replySchemas.checkBoxes, v, 'secagg:checkBoxes reply'),
  // The masked vector must have exactly the length of the sum's layout.
  collectMasked: (v, req) => {
    const r = parse(replySchemas.collectMasked, v, 'secagg:collectMasked reply');
    return { ...r, y: u32FromWire(r.y, 'collectMasked reply.y', vectorLength(req.spec)) };
  },
  consistency: (v) => parse(replySchemas.consistency, v, 'secagg:consistency reply'),
  unmask: (v) => parse(replySchemas.unmask, v, 'secagg:unmask reply'),
  reshare: (v) => parse(replySchemas.reshare, v, 'secagg:reshare reply'),
};

/** Coordinator side: validates the reply to a stage's request. */
export function parseStageReply<S extends Stage>(stage: S, v: unknown, req: StageRequest<S>): StageReply<S> {
  return replyParsers[stage](v, req);
}

// --- the coordinator's notices and the acknowledgement envelope ------------------------------------------------

/** A refusal's code as it arrives: the catalogue's, or `fallback` for one the catalogue does not know. */
const peerCode = (fallback: Parameters<typeof peerErrorCode>[1]) =>
  z
    .string()
    .max(64)
    .transform((c) => peerErrorCode(c, fallback));
const message = z.string().max(1 << 16);

/** The error of a refused request, as a client acknowledges it. */
const wireErrorSchema = z.object({ code: peerCode(INTERNAL_ERROR_CODE), message }) satisfies z.ZodType<WireError>;

/** An acknowledgement (unpacked): a reply, validated by its stage's schema afterwards, or a refusal. */
export const ackSchema = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), reply: z.unknown() }), z.object({ ok: z.literal(false), error: wireErrorSchema })]) satisfies z.ZodType<
  Ack<unknown>
>;

/** Coordinator side: an unpacked acknowledgement. */
export function parseAck(v: unknown, what: string): Ack<unknown> {
  return parse(ackSchema, v, what);
}

const authRefusedSchema = z.object({ code: peerCode('auth'), message }) satisfies z.ZodType<AuthRefused>;
const roundEndSchema = z.object({ round: z.number().int().min(1), status: z.enum(['completed', 'aborted']), reason: message.optional() }) satisfies z.ZodType<RoundEnd>;
const runEndSchema = z.object({ rounds: int }) satisfies z.ZodType<RunEnd>;

/** Client side: the coordinator's `auth:refused` notice (an uncatalogued code reads as `auth`). */
export function parseAuthRefused(v: unknown): AuthRefused {
  return parse(authRefusedSchema, v, 'auth:refused');
}

/** Client side: the coordinator's `round:end` notice. */
export function parseRoundEnd(v: unknown): RoundEnd {
  return parse(roundEndSchema, v, 'round:end');
}

/** Client side: the coordinator's `run:end` notice. */
export function parseRunEnd(v: unknown): RunEnd {
  return parse(runEndSchema, v, 'run:end');
}
