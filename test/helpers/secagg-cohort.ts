/**
 * An in-memory cohort for secure-aggregation tests: real client stage machines and a real coordinator
 * session, connected by a transport that can drop a client at a chosen stage (a dead client stays dead),
 * tamper with messages, and record everything the coordinator receives.
 */
import { SecAggClientRound } from '../../client/secagg-client.js';
import { SecureSumSession, type SecureSumOptions } from '../../server/secagg-session.js';
import { identityKeyPair } from '../../shared/secagg/keys.js';
import type { PlannedSum, Stage } from '../../shared/secagg/messages.js';
import type { StageSender } from '../../shared/engine/transport.js';
import { parseStageReply, parseStageRequest } from '../../shared/protocol/schemas.js';
import { pack, unpack } from '../../shared/protocol/wire.js';
import type { VectorSpec } from '../../shared/secagg/quantize.js';
import { Rng } from '../../shared/util/random.js';

/** Where a client stops answering: at `stage` (of sum `phase`, if given; of any attempt). */
export interface DropPoint {
  stage: Stage;
  phase?: string;
}

/** Test cohort options. */
export interface CohortOptions {
  n: number;
  /** Planned sums; every client's input of a sum is drawn from a seeded stream. */
  sums: { phase: string; spec: VectorSpec }[];
  drops?: Record<string, DropPoint>;
  session?: Partial<Omit<SecureSumOptions, 'runId' | 'round' | 'cohort' | 'identity' | 'plannedSums'>>;
  /**
   * Rewrites a client's reply before the coordinator sees it (tampering). What it returns takes the wire's path
   * (packed, unpacked, validated by `parseStageReply`), so a tampered reply must still be well-formed to arrive.
   */
  tamper?: (stage: Stage, clientId: string, reply: unknown) => unknown;
  /** Rewrites a request before the client sees it (a malicious coordinator); validated as `tamper`'s replies are. */
  tamperRequest?: (stage: Stage, clientId: string, request: unknown) => unknown;
  seed?: number;
}

/** A ready cohort. */
export interface Cohort {
  ids: string[];
  clients: Map<string, SecAggClientRound>;
  session: SecureSumSession;
  /** Each client's plaintext input per phase (one array per segment). */
  inputs: Map<string, Map<string, Float64Array[]>>;
  /** Every reply the coordinator received: [stage, client, reply]. */
  received: [Stage, string, unknown][];
  /** Requests sent per stage. */
  sent: Map<Stage, number>;
  /** Plaintext sum of `phase` over `ids`, per segment. */
  plainSum: (phase: string, over: readonly string[]) => Float64Array[];
}

/** Client ids `client-01` … (fixed width, so byte order = numeric order). */
export function clientIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `client-${String(i + 1).padStart(3, '0')}`);
}

/** Builds a cohort with real stage machines on both sides. */
export function makeCohort(o: CohortOptions): Cohort {
  const ids = clientIds(o.n);
  const rng = new Rng(o.seed ?? 1);
  const identities = new Map(ids.map((id) => [id, identityKeyPair()]));
  const runId = Uint8Array.from({ length: 16 }, (_, i) => i);
  const inputs = new Map<string, Map<string, Float64Array[]>>();
  for (const id of ids) {
    const perPhase = new Map<string, Float64Array[]>();
    for (const s of o.sums) {
      perPhase.set(
        s.phase,
        s.spec.map((seg) =>
          Float64Array.from({ length: seg.length }, () => {
            if (seg.kind === 'signed') return (rng.float() * 2 - 1) * seg.c * 0.9;
            if (seg.kind === 'weight') return 1;
            return rng.int(Math.min(seg.R, 5) + 1);
          }),
        ),
      );
    }
    inputs.set(id, perPhase);
  }
  const clients = new Map(
    ids.map((id) => [
      id,
      new SecAggClientRound(
        {
          clientId: id,
          identity: identities.get(id)!,
          peerIdentity: (peer) => identities.get(peer)?.publicKey,
          input: (phase) => inputs.get(id)!.get(phase)!,
          rounding: 'half-up',
        },
        runId,
        1,
      ),
    ]),
  );
  const dead = new Set<string>();
  const received: [Stage, string, unknown][] = [];
  const sent = new Map<Stage, number>();
  const send: StageSender = async (stage, id, request) => {
    sent.set(stage, (sent.get(stage) ?? 0) + 1);
    const drop = o.drops?.[id];
    const phase = request.env.phase;
    if (drop !== undefined && drop.stage === stage && (drop.phase === undefined || drop.phase === phase)) dead.add(id);
    if (dead.has(id)) throw new Error(`${id} dropped`);
    const req = o.tamperRequest !== undefined ? parseStageRequest(stage, unpack(pack(o.tamperRequest(stage, id, request)), 'tampered request')) : request;
    const reply = await clients.get(id)!.handle(stage, req);
    return o.tamper !== undefined ? parseStageReply(stage, unpack(pack(o.tamper(stage, id, reply)), 'tampered reply'), request) : reply;
  };
  const plannedSums: PlannedSum[] = o.sums.map((s) => ({ phase: s.phase, spec: s.spec }));
  const session = new SecureSumSession(
    {
      runId,
      round: 1,
      cohort: ids,
      identity: (id) => identities.get(id)?.publicKey,
      plannedSums,
      onReply: (stage, id, reply) => received.push([stage, id, reply]),
      ...o.session,
    },
    send,
  );
  const plainSum = (phase: string, over: readonly string[]): Float64Array[] => {
    const spec = o.sums.find((s) => s.phase === phase)!.spec;
    return spec.map((seg, k) => {
      const out = new Float64Array(seg.length);
      for (const id of over) {
        const v = inputs.get(id)!.get(phase)![k]!;
        for (let i = 0; i < seg.length; i++) out[i] += v[i]!;
      }
      return out;
    });
  };
  return { ids, clients, session, inputs, received, sent, plainSum };
}
