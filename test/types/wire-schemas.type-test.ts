/**
 * Compile-only type tests of the wire schemas, as socket.io's test-d: the build (tsc over test/) fails when a
 * mismatch between a zod schema and its message interface stops being a type error. Nothing here runs. The real
 * schemas are tied to their interfaces in shared/protocol/schemas.ts (`satisfies z.ZodType<…>`), so a schema that
 * drifts from its message fails the build there.
 */
import { z } from 'zod';
import type { CheckBoxesReply, SetupReply } from '../../shared/secagg/messages.js';

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array);

// @ts-expect-error: a schema without the interface's `signature` does not satisfy it
export const missingField = z.object({ cPk: bytes, sPk: bytes }) satisfies z.ZodType<SetupReply>;

// @ts-expect-error: `failed` must be client ids (strings), not numbers
export const wrongType = z.object({ failed: z.array(z.number()), signature: bytes }) satisfies z.ZodType<CheckBoxesReply>;

// @ts-expect-error: the proof key is bytes, not a hex string
export const wrongProof = z.object({ failed: z.array(z.string()), cSk: z.string().optional(), signature: bytes }) satisfies z.ZodType<CheckBoxesReply>;

export const matching = z.object({ failed: z.array(z.string()), cSk: bytes.optional(), signature: bytes }) satisfies z.ZodType<CheckBoxesReply>;
