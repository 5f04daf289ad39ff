/**
 * Compile-only type tests of the wire schemas, as socket.io's test-d: the build (tsc over test/) fails when a
 * mismatch between a zod schema and its message interface stops being a type error. Nothing here runs. The real
 * schemas are tied to their interfaces in shared/protocol/schemas.ts (`satisfies z.ZodType<…>`), so a schema that
 * drifts from its message fails the build there.
 */
import { z } from 'zod';
import type { CheckBoxesReply, SetupReply } from '../../shared/secagg/messages.js';
import type { Ack, AuthRefused, RoundEnd, RunEnd, TrainReply, TrainRequest } from '../../shared/protocol/events.js';
import type { WireError } from '../../shared/protocol/errors.js';

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array);

// @ts-expect-error: a schema without the interface's `signature` does not satisfy it
export const missingField = z.object({ cPk: bytes, sPk: bytes }) satisfies z.ZodType<SetupReply>;

// @ts-expect-error: `failed` must be client ids (strings), not numbers
export const wrongType = z.object({ failed: z.array(z.number()), signature: bytes }) satisfies z.ZodType<CheckBoxesReply>;

// @ts-expect-error: the proof key is bytes, not a hex string
export const wrongProof = z.object({ failed: z.array(z.string()), cSk: z.string().optional(), signature: bytes }) satisfies z.ZodType<CheckBoxesReply>;

export const matching = z.object({ failed: z.array(z.string()), cSk: bytes.optional(), signature: bytes }) satisfies z.ZodType<CheckBoxesReply>;

// @ts-expect-error: a train request schema without returnWeights (and with no train options) does not satisfy TrainRequest
export const trainMissing = z.object({ round: z.number(), model: z.string(), weights: bytes, train: z.object({}) }) satisfies z.ZodType<TrainRequest>;

// @ts-expect-error: a train reply's loss is a number
export const trainReplyWrong = z.object({ numExamples: z.number(), loss: z.string(), weights: bytes.optional() }) satisfies z.ZodType<TrainReply>;

// @ts-expect-error: a wire error's code is the catalogue's union; a bare string schema is wider
export const wireErrorWide = z.object({ code: z.string(), message: z.string() }) satisfies z.ZodType<WireError>;

// @ts-expect-error: the same for auth:refused
export const authRefusedWide = z.object({ code: z.string(), message: z.string() }) satisfies z.ZodType<AuthRefused>;

// @ts-expect-error: a round's status is completed or aborted, not any string
export const roundEndWide = z.object({ round: z.number(), status: z.string() }) satisfies z.ZodType<RoundEnd>;

// @ts-expect-error: run:end counts rounds with a number
export const runEndWrong = z.object({ rounds: z.string() }) satisfies z.ZodType<RunEnd>;

// @ts-expect-error: an acknowledgement that may be ok without a reply key, or refused without an error, is not an Ack
export const ackLoose = z.object({ ok: z.boolean(), reply: z.unknown(), error: z.object({ code: z.literal('auth'), message: z.string() }).optional() }) satisfies z.ZodType<Ack<unknown>>;

export const runEndMatching = z.object({ rounds: z.number() }) satisfies z.ZodType<RunEnd>;
