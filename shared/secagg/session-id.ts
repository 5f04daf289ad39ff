/**
 * The members of a secure-aggregation round and its session id (docs/spec/secure-aggregation.md §3.2): client ids
 * in UTF-8 byte order give the member indices 1..n, advertised round keys are validated, and the session id hashes
 * the run, the round and every member's keys, so every derived key and signed message is bound to this round.
 */

import { sha256 as sha256Bytes } from './primitives.js';
import { bin, compareUtf8, concatBytes, str, toHex, u32 } from './encoding.js';
import { SecAggConfigError, SecAggProtocolError } from './errors.js';
import { isLowOrderPublicKey } from './keys.js';
import { checkIndex, KEY_BYTES, LABELS } from './labels.js';

/** One member's advertised round keys, as hashed into the session id. */
export interface MemberKeys {
  /** The client id (any string; ordered by its UTF-8 bytes). */
  clientId: string;
  /** Share-encryption public key (32 bytes). */
  cPk: Uint8Array;
  /** Masking public key (32 bytes). */
  sPk: Uint8Array;
}

/** Client ids sorted in ascending UTF-8 byte order; throws a protocol error on a duplicate id. */
export function sortClientIds(clientIds: readonly string[]): string[] {
  const sorted = [...clientIds].sort(compareUtf8);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i] === sorted[i - 1]) {
      throw new SecAggProtocolError(`duplicate client id '${sorted[i]}'`, { field: 'clientId' });
    }
  }
  return sorted;
}

/** Member indices 1..n in ascending UTF-8 byte order of client id (§3.2); throws on a duplicate id. */
export function memberIndices(clientIds: readonly string[]): Map<string, number> {
  const map = new Map<string, number>();
  sortClientIds(clientIds).forEach((id, i) => map.set(id, i + 1));
  return map;
}

/**
 * Checks advertised round keys: 32 bytes each, none of low order, all 2n keys pairwise distinct, ids distinct.
 * Throws a protocol error naming the client and the field.
 */
export function validateMemberKeys(members: readonly MemberKeys[]): void {
  const seen = new Map<string, string>();
  sortClientIds(members.map((m) => m.clientId));
  for (const m of members) {
    for (const field of ['cPk', 'sPk'] as const) {
      const pk = m[field];
      if (!(pk instanceof Uint8Array) || pk.length !== KEY_BYTES) {
        throw new SecAggProtocolError(`${field} of '${m.clientId}' must be ${KEY_BYTES} bytes`, { field });
      }
      if (isLowOrderPublicKey(pk)) {
        throw new SecAggProtocolError(`${field} of '${m.clientId}' is a low-order point`, { field });
      }
      const hex = toHex(pk);
      const other = seen.get(hex);
      if (other !== undefined) {
        throw new SecAggProtocolError(`${field} of '${m.clientId}' repeats the key of ${other}`, { field });
      }
      seen.set(hex, `${field} of '${m.clientId}'`);
    }
  }
}

/** SHA-256 of some bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return sha256Bytes(data);
}

/**
 * sessionId = SHA-256(str("fl-secagg/v1/session") ‖ bin(runId) ‖ u32(round) ‖ u32(n) ‖ for i = 1..n:
 * u32(i) ‖ str(clientId_i) ‖ bin(cPk_i) ‖ bin(sPk_i)), members indexed by UTF-8 order of client id (§3.2).
 * `members` may come in any order; duplicate ids throw a protocol error.
 */
export function sessionId(runId: Uint8Array, round: number, members: readonly MemberKeys[]): Uint8Array {
  if (!(runId instanceof Uint8Array)) throw new SecAggConfigError('runId', `runId must be a Uint8Array, got ${typeof runId}`);
  checkIndex('round', round);
  const order = memberIndices(members.map((m) => m.clientId));
  const byIndex = new Array<MemberKeys>(members.length);
  for (const m of members) byIndex[order.get(m.clientId)! - 1] = m;
  const parts: Uint8Array[] = [str(LABELS.session), bin(runId), u32(round), u32(members.length)];
  byIndex.forEach((m, i) => {
    parts.push(u32(i + 1), str(m.clientId), bin(m.cPk), bin(m.sPk));
  });
  return sha256(concatBytes(...parts));
}
