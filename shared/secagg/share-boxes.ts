/**
 * Share boxes of secure aggregation (docs/spec/secure-aggregation.md §3.3, §4): the \`nacl.secretbox\` that carries
 * a sender's Shamir shares to one recipient, the byte encoding of its plaintext (who sent it to whom in which
 * session, and the shares), and the opening that accepts a payload only for the expected session, sender and
 * recipient.
 */

import nacl from 'tweetnacl';
import { ByteReader, bin, bytesEqual, concatBytes, str, u32 } from './encoding.js';
import { SecAggConfigError } from './errors.js';
import { wipe } from './keys.js';
import { checkIndex, checkKeyBytes, KEY_BYTES, LABELS } from './labels.js';

/**
 * A sealed share box: random 24-byte nonce and the secretbox ciphertext (plaintext + 16-byte tag). On the wire it
 * travels with its peer's id as messages.ts `ShareBox`.
 */
export interface SealedShareBox {
  /** 24-byte random nonce. */
  nonce: Uint8Array;
  /** `nacl.secretbox` output. */
  box: Uint8Array;
}

/** Encrypts and authenticates `plaintext` under a share-box key with a fresh random nonce. */
export function sealShareBox(key: Uint8Array, plaintext: Uint8Array): SealedShareBox {
  checkKeyBytes('share-box key', key);
  const nonce = nacl.randomBytes(nacl.secretbox.nonceLength);
  return { nonce, box: nacl.secretbox(plaintext, nonce, key) };
}

/** Opens a share box; null when it fails to authenticate or any argument has the wrong shape (never throws). */
export function openShareBox(key: Uint8Array, nonce: Uint8Array, box: Uint8Array): Uint8Array | null {
  if (!(key instanceof Uint8Array) || key.length !== nacl.secretbox.keyLength) return null;
  if (!(nonce instanceof Uint8Array) || nonce.length !== nacl.secretbox.nonceLength) return null;
  if (!(box instanceof Uint8Array) || box.length < nacl.secretbox.overheadLength) return null;
  try {
    return nacl.secretbox.open(box, nonce, key);
  } catch {
    return null;
  }
}

/** One share of a self-mask seed b_u^(phase, attempt). */
export interface SelfShare {
  /** The sum the seed masks ('model', 'bva/<step>/p1', …). */
  phase: string;
  /** The sum's attempt, from 0. */
  attempt: number;
  /** The Shamir share (secret bytes + 1 x-coordinate byte). */
  share: Uint8Array;
}

/** The plaintext of a share box: who sent it to whom in which session, and the shares it carries. */
export interface SharePayload {
  /** The round's session id (32 bytes). */
  sessionId: Uint8Array;
  /** Sender's member index (1..n). */
  sender: number;
  /** Recipient's member index (1..n). */
  recipient: number;
  /** Share of the sender's s^SK (at shareKeys), or null (at reshare, which carries only fresh self-mask shares). */
  skShare: Uint8Array | null;
  /** Shares of the sender's self-mask seeds, one per planned (phase, attempt), no (phase, attempt) twice. */
  selfShares: SelfShare[];
}

/**
 * Encodes a share payload: str(label) ‖ bin(sessionId) ‖ u32(sender) ‖ u32(recipient) ‖ bin(skShare or empty)
 * ‖ u32(count) ‖ per self share: str(phase) ‖ u32(attempt) ‖ bin(share).
 */
export function encodeSharePayload(p: SharePayload): Uint8Array {
  checkKeyBytes('sessionId', p.sessionId);
  checkIndex('sender', p.sender);
  checkIndex('recipient', p.recipient);
  if (p.skShare !== null && (!(p.skShare instanceof Uint8Array) || p.skShare.length < 2)) {
    throw new SecAggConfigError('skShare', 'skShare must be null or a share of at least 2 bytes');
  }
  const seen = new Set<string>();
  const parts: Uint8Array[] = [str(LABELS.sharePayload), bin(p.sessionId), u32(p.sender), u32(p.recipient), bin(p.skShare ?? new Uint8Array(0)), u32(p.selfShares.length)];
  for (const s of p.selfShares) {
    const id = `${s.attempt}/${s.phase}`;
    if (seen.has(id)) throw new SecAggConfigError('selfShares', `(phase '${s.phase}', attempt ${s.attempt}) appears twice`);
    seen.add(id);
    if (!(s.share instanceof Uint8Array) || s.share.length < 2) {
      throw new SecAggConfigError('selfShares', `share for phase '${s.phase}' must be at least 2 bytes`);
    }
    parts.push(str(s.phase), u32(s.attempt), bin(s.share));
  }
  return concatBytes(...parts);
}

/** Decodes a share payload; null on any malformed input (wrong label, overrun, trailing bytes, repeats). */
export function decodeSharePayload(bytes: Uint8Array): SharePayload | null {
  if (!(bytes instanceof Uint8Array)) return null;
  const r = new ByteReader(bytes);
  if (r.str() !== LABELS.sharePayload) return null;
  const sid = r.bin();
  const sender = r.u32();
  const recipient = r.u32();
  const sk = r.bin();
  const count = r.u32();
  if (sid === null || sid.length !== KEY_BYTES || sender === null || recipient === null || sk === null || count === null) {
    return null;
  }
  if (sk.length === 1) return null;
  // Each entry takes at least 12 bytes, so a huge declared count is refused before any allocation.
  if (count > r.remaining / 12) return null;
  const selfShares: SelfShare[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const phase = r.str();
    const attempt = r.u32();
    const share = r.bin();
    if (phase === null || attempt === null || share === null || share.length < 2) return null;
    const id = `${attempt}/${phase}`;
    if (seen.has(id)) return null;
    seen.add(id);
    selfShares.push({ phase, attempt, share });
  }
  if (r.remaining !== 0) return null;
  return { sessionId: sid, sender, recipient, skShare: sk.length === 0 ? null : sk, selfShares };
}

/** Who a share box must come from and go to: checked after opening (§4, client checks). */
export interface ShareBoxExpectation {
  /** This round's session id. */
  sessionId: Uint8Array;
  /** The claimed sender's index. */
  sender: number;
  /** This client's index. */
  recipient: number;
}

/**
 * Opens a box and decodes its payload, returning it only if it names the expected session, sender and recipient;
 * null otherwise (the box is then discarded and its sender reported, §4).
 */
export function openSharePayload(key: Uint8Array, nonce: Uint8Array, box: Uint8Array, expected: ShareBoxExpectation): SharePayload | null {
  const plain = openShareBox(key, nonce, box);
  if (plain === null) return null;
  const p = decodeSharePayload(plain);
  wipe(plain);
  if (p === null) return null;
  if (!bytesEqual(p.sessionId, expected.sessionId) || p.sender !== expected.sender || p.recipient !== expected.recipient) {
    wipe(p.skShare, ...p.selfShares.map((s) => s.share));
    return null;
  }
  return p;
}
