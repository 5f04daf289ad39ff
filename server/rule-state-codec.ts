/**
 * The rule-state section of a checkpoint (format 3, server/run-store.ts): what the run's stateful aggregation rule
 * kept after the last completed round, so that a resumed run aggregates exactly as the uninterrupted one. The
 * header describes it (JSON, zod-checked); the values themselves go in the checksummed binary body after the
 * weights and the shared set, never as JSON numbers (a JSON round trip of a Float64 history would be slow, four
 * times larger, and one careless formatter away from losing bits):
 *
 *   "ruleState": null                                     the aggregation keeps nothing across rounds
 *   "ruleState": { "at": "rule" | "across", "kind": "centered-clipping",
 *                  "center": null | { "dtype": "float32", "length": d } }
 *   "ruleState": { "at": "rule", "kind": "foolsgold",
 *                  "history": { "dtype": "float64", "length": d, "clients": [id, …] } }
 *
 *   body: the centre (4·d bytes), or one history per listed client, in that order (8·d bytes each), little-endian.
 *
 * `at` names the rule that keeps it (statefulPart in shared/federated/aggregation.ts): the aggregation rule
 * itself, or the rule across the group means of grouped secure aggregation. A stateful rule that has not
 * aggregated yet (every round so far aborted before it) has `center: null` or `clients: []`; `null` for the
 * whole section means the run's aggregation keeps no state at all, so a resume can tell "no state yet" from "a
 * run of another rule".
 *
 * Decoding checks what the schema cannot: every vector has one coordinate per model weight, no client has two
 * histories, and every value is finite. There is no magnitude bound, unlike the weights': a FoolsGold history
 * sums whatever finite updates a client sent, a Byzantine client's huge ones included, and a bound would let
 * that client make the run impossible to resume. Any failure is a CheckpointError naming the file.
 *
 * Memory: encoding returns views of the state's own arrays (no copy); decoding copies each vector once out of
 * the file's buffer (FoolsGold: 8·d bytes per client ever seen, as the rule itself holds).
 */
import { z } from 'zod';
import type { StatefulRule } from '../shared/federated/aggregation.js';
import { CheckpointError } from './checkpoint-error.js';
import type { RuleState } from './robust-aggregators.js';

/** A run's cross-round aggregation state: which rule keeps it, and what it kept (undefined: nothing yet). */
export interface AggregationState {
  at: 'rule' | 'across';
  kind: StatefulRule;
  state: RuleState | undefined;
}

/** The header's description of the rule-state section. */
export const ruleStateHeaderSchema = z
  .discriminatedUnion('kind', [
    z.object({
      at: z.enum(['rule', 'across']),
      kind: z.literal('centered-clipping'),
      center: z.object({ dtype: z.literal('float32'), length: z.number().int().min(1) }).nullable(),
    }),
    z.object({
      // FoolsGold is refused across groups (ACROSS_REFUSALS), so its state is only ever the rule's own.
      at: z.literal('rule'),
      kind: z.literal('foolsgold'),
      history: z.object({ dtype: z.literal('float64'), length: z.number().int().min(1), clients: z.array(z.string().min(1)) }),
    }),
  ])
  .nullable();

/** What the header says about the rule state. */
export type RuleStateHeader = z.infer<typeof ruleStateHeaderSchema>;

/** The header description of a rule state, and its binary parts in body order (views of the state's arrays). */
export function encodeRuleState(s: AggregationState | null, weights: number): { header: RuleStateHeader; parts: Uint8Array[] } {
  if (s === null) return { header: null, parts: [] };
  if (s.state !== undefined && s.state.kind !== s.kind) throw new Error(`encodeRuleState: a '${s.state.kind}' state given as '${s.kind}'`);
  const bytes = (a: Float32Array | Float64Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const sized = (a: Float32Array | Float64Array, what: string): Uint8Array => {
    if (a.length !== weights) throw new Error(`encodeRuleState: ${what} has ${a.length} coordinates for a model of ${weights} weights`);
    return bytes(a);
  };
  if (s.kind === 'centered-clipping') {
    const center = s.state?.kind === 'centered-clipping' ? s.state.center : undefined;
    return {
      header: { at: s.at, kind: s.kind, center: center !== undefined ? { dtype: 'float32', length: weights } : null },
      parts: center !== undefined ? [sized(center, 'the centre')] : [],
    };
  }
  if (s.at !== 'rule') throw new Error("encodeRuleState: FoolsGold's state is the rule's own, never across groups");
  const history = s.state?.kind === 'foolsgold' ? s.state.history : new Map<string, Float64Array>();
  const clients = [...history.keys()];
  return {
    header: { at: 'rule', kind: s.kind, history: { dtype: 'float64', length: weights, clients } },
    parts: clients.map((id) => sized(history.get(id)!, `the history of client ${JSON.stringify(id)}`)),
  };
}

/** How many body bytes the described rule state takes. */
export function ruleStateBytes(h: RuleStateHeader): number {
  if (h === null) return 0;
  if (h.kind === 'centered-clipping') return h.center === null ? 0 : 4 * h.center.length;
  return 8 * h.history.length * h.history.clients.length;
}

/** The rule state's part of the truncation message ("" when there is none). */
export function describeRuleStateBytes(h: RuleStateHeader): string {
  if (h === null || ruleStateBytes(h) === 0) return '';
  if (h.kind === 'centered-clipping') return ` and a centered-clipping centre of ${h.center!.length} float32`;
  const n = h.history.clients.length;
  return ` and ${n} FoolsGold histor${n === 1 ? 'y' : 'ies'} of ${h.history.length} float64`;
}

/**
 * Reads the rule state the header describes from `body` (exactly `ruleStateBytes(h)` bytes), for a model of
 * `weights` weights; a CheckpointError naming `file` when it does not fit or holds a non-finite value.
 */
export function decodeRuleState(file: string, h: RuleStateHeader, body: Uint8Array, weights: number): AggregationState | null {
  if (h === null) return null;
  const fail = (problem: string): never => {
    throw new CheckpointError(file, `rule state: ${problem}`);
  };
  if (body.byteLength !== ruleStateBytes(h)) fail(`${body.byteLength} bytes where the header describes ${ruleStateBytes(h)}`);
  const length = h.kind === 'centered-clipping' ? h.center?.length : h.history.length;
  if (length !== undefined && length !== weights) {
    fail(`header field "ruleState.${h.kind === 'centered-clipping' ? 'center' : 'history'}.length": ${length} coordinates, but the model has ${weights} weights`);
  }
  /** A copy of `n` values of `type` at byte `offset`, every one finite (`what` names it in the error). */
  const read = <T extends Float32Array | Float64Array>(type: { new (n: number): T; BYTES_PER_ELEMENT: number }, offset: number, n: number, what: string): T => {
    const a = new type(n);
    new Uint8Array(a.buffer).set(body.subarray(offset, offset + n * type.BYTES_PER_ELEMENT));
    const bad = a.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) fail(`coordinate ${bad} of ${what} is ${a[bad]}: a checkpoint holds finite values only`);
    return a;
  };
  if (h.kind === 'centered-clipping') {
    return { at: h.at, kind: h.kind, state: h.center === null ? undefined : { kind: h.kind, center: read(Float32Array, 0, weights, 'the centered-clipping centre') } };
  }
  const history = new Map<string, Float64Array>();
  h.history.clients.forEach((id, i) => {
    if (history.has(id)) fail(`client ${JSON.stringify(id)} has two FoolsGold histories`);
    history.set(id, read(Float64Array, 8 * weights * i, weights, `the FoolsGold history of client ${JSON.stringify(id)}`));
  });
  // No history yet reads as no state, which FoolsGold treats the same way (it starts from an empty map).
  return { at: 'rule', kind: h.kind, state: history.size > 0 ? { kind: h.kind, history } : undefined };
}
