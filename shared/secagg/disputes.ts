/**
 * Share boxes and who is to blame when one does not open (docs/spec/secure-aggregation.md §6.1).
 *
 * After shareKeys every client opens the boxes addressed to it in a stage of their own, `checkBoxes`, before
 * anything is masked. A complaint "I could not open u's box" is either true (u sent garbage) or false (the
 * accuser lies to have u left out). The accuser proves it by revealing its round secret key c, whose public half
 * it advertised and signed at setup: with it the coordinator derives the box key itself, opens the very box it
 * delivered, and knows. The box opens and holds a well-formed payload: the accuser lied. It does not: the sender
 * sent garbage. The revealed key decrypts only shares of this key agreement's secrets, and a key agreement with a
 * complaint is abandoned before any input is masked under it (the accuser leaves it, and the coordinator starts
 * again with fresh keys without the guilty), so no masking secret in use is ever revealed.
 *
 * Both sides open a box with the same function (`openBoxFrom`), so the coordinator's verdict is the client's
 * experience, not a second opinion.
 *
 * Ambiguities resolved:
 * - a complaint about a sender whose box was not delivered to the accuser is the accuser's fault (an honest client
 *   only complains about boxes it holds);
 * - a complaint without a key, or with a key that does not match the advertised public key, is the accuser's fault;
 * - a client that both lies and tells the truth in one reply gets both verdicts: it and the garbage sender go;
 * - the same sender named twice counts once.
 */
import { SHARE_KEYS_PHASE } from './labels.js';
import { agree, publicKeyOf, wipe } from './keys.js';
import { shareBoxKey } from './kdf.js';
import { openSharePayload, type SharePayload } from './share-boxes.js';
import { bytesEqual } from './encoding.js';
import type { ShareBox } from './messages.js';
import type { Topology } from './topology.js';

/** What a box must hold: the s^SK share and one self-mask share per planned sum (attempt 0). */
export interface BoxExpectation {
  /** The box's (phase, attempt): the round's shareKeys (SHARE_KEYS_PHASE, 0) or a reshare's. */
  phase: string;
  attempt: number;
  /** Phases planned at setup (shareKeys boxes carry a share for each). */
  planned: ReadonlySet<string>;
}

/**
 * Opens the box `box` sent by `sender` to `recipient` with the recipient's round secret key c, and checks that the
 * payload names this session, sender and recipient and has the shares the stage calls for. Null when it does not.
 */
export function openBoxFrom(topo: Topology, cSk: Uint8Array, sender: string, recipient: string, box: ShareBox, expect: BoxExpectation): SharePayload | null {
  const s = topo.index.get(sender);
  const r = topo.index.get(recipient);
  const keys = topo.keys.get(sender);
  if (s === undefined || r === undefined || keys === undefined) return null;
  let payload: SharePayload | null = null;
  try {
    const shared = agree(cSk, keys.cPk);
    const key = shareBoxKey(shared, topo.sessionId, expect.phase, expect.attempt, s, r);
    payload = openSharePayload(key, box.nonce, box.box, { sessionId: topo.sessionId, sender: s, recipient: r });
    wipe(shared, key);
  } catch {
    return null;
  }
  if (payload === null) return null;
  const atShareKeys = expect.phase === SHARE_KEYS_PHASE;
  const ok =
    (atShareKeys ? payload.skShare !== null : payload.skShare === null) &&
    payload.selfShares.every((x) => (atShareKeys ? x.attempt === 0 && expect.planned.has(x.phase) : x.phase === expect.phase && x.attempt === expect.attempt));
  if (!ok) {
    wipe(payload.skShare, ...payload.selfShares.map((x) => x.share));
    return null;
  }
  return payload;
}

/** One verdict: who is to blame for a complaint, and why. */
export interface Verdict {
  accuser: string;
  /** The accused sender ('' when the complaint's proof itself is bad). */
  accused: string;
  guilty: string;
  reason: 'garbage-box' | 'box-opens' | 'not-delivered' | 'bad-proof';
}

/**
 * Judges one client's complaints: `failed` (the senders it names), its revealed key `cSk`, and the boxes the
 * coordinator delivered to it (sender → box). Returns one verdict per named sender (or one for a bad proof).
 */
export function judgeComplaints(topo: Topology, accuser: string, failed: readonly string[], cSk: Uint8Array | undefined, delivered: ReadonlyMap<string, ShareBox>, expect: BoxExpectation): Verdict[] {
  const named = [...new Set(failed)];
  if (named.length === 0) return [];
  const advertised = topo.keys.get(accuser)?.cPk;
  let proofOk = false;
  try {
    proofOk = cSk !== undefined && cSk.length === 32 && advertised !== undefined && bytesEqual(publicKeyOf(cSk), advertised);
  } catch {
    proofOk = false;
  }
  if (!proofOk) return [{ accuser, accused: '', guilty: accuser, reason: 'bad-proof' }];
  return named.map((sender): Verdict => {
    const box = delivered.get(sender);
    if (box === undefined) return { accuser, accused: sender, guilty: accuser, reason: 'not-delivered' };
    const payload = openBoxFrom(topo, cSk!, sender, accuser, box, expect);
    if (payload === null) return { accuser, accused: sender, guilty: sender, reason: 'garbage-box' };
    wipe(payload.skShare, ...payload.selfShares.map((x) => x.share));
    return { accuser, accused: sender, guilty: accuser, reason: 'box-opens' };
  });
}
