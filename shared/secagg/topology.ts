/**
 * A round's membership as both sides derive it from the advertisements of U1: client ids in ascending UTF-8
 * byte order with indices 1..n, the session id, and each member's neighbours (everyone on the complete graph,
 * or the SecAgg+ Harary graph seeded by the session id, secure-aggregation.md §3.2, §8).
 */
import { memberIndices, sessionId as computeSessionId, sortClientIds, validateMemberKeys, type MemberKeys } from './session-id.js';
import { completeNeighbours, hararyNeighbours } from './graph.js';
import type { GraphSpec } from './messages.js';

/** Members, indices, keys and neighbours of one round. */
export interface Topology {
  sessionId: Uint8Array;
  /** Client ids by index − 1. */
  ids: string[];
  /** Client id → index (1..n). */
  index: Map<string, number>;
  /** Client id → its advertised keys. */
  keys: Map<string, MemberKeys>;
  /** Neighbour indices (self included) by index − 1. */
  neighbours: number[][];
}

/** Validates the members' keys and derives the round topology. */
export function buildTopology(runId: Uint8Array, round: number, members: readonly MemberKeys[], graph: GraphSpec): Topology {
  validateMemberKeys(members);
  const sid = computeSessionId(runId, round, members);
  const ids = sortClientIds(members.map((m) => m.clientId));
  const index = memberIndices(ids);
  const keys = new Map(members.map((m) => [m.clientId, m]));
  const neighbours = graph.kind === 'complete' ? completeNeighbours(ids.length) : hararyNeighbours(ids.length, graph.degree, sid);
  return { sessionId: sid, ids, index, keys, neighbours };
}

/** Neighbour client ids of `id` (self included). */
export function neighbourIds(t: Topology, id: string): string[] {
  const i = t.index.get(id);
  if (i === undefined) return [];
  return t.neighbours[i - 1]!.map((j) => t.ids[j - 1]!);
}
