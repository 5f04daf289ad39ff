/**
 * Proof that a connecting client holds the Ed25519 identity key it claims (docs/spec/secure-aggregation.md,
 * "Identity"). The handshake's claim (client id, public key) is only a claim: the coordinator answers every
 * connection with a fresh random nonce, and the client signs
 *
 *   "robust-fl/identity-proof/v1" ‖ len(nonce) ‖ nonce ‖ len(id) ‖ id ‖ len(pk) ‖ pk     (lengths: u32 big-endian)
 *
 * Binding the id and key into the signed message stops a signature being moved to another claim; the nonce,
 * new for each connection, stops a recorded proof being replayed; the domain string stops a signature made for
 * the secure-aggregation messages (which the same key signs) being passed off as a proof, and vice versa.
 */
import { randomBytes } from '../secagg/primitives.js';
import nacl from 'tweetnacl';
import { signBytes, verifyBytes } from '../secagg/signed-messages.js';

/** Length of the coordinator's nonce, in bytes. */
export const PROOF_NONCE_BYTES = 32;
const DOMAIN = new TextEncoder().encode('robust-fl/identity-proof/v1');

/** A fresh nonce for one connection. */
export function proofNonce(): Uint8Array {
  return randomBytes(PROOF_NONCE_BYTES);
}

/** The bytes a client signs to prove `identityPk` for `clientId` against `nonce`. */
export function proofMessage(nonce: Uint8Array, clientId: string, identityPk: Uint8Array): Uint8Array {
  const id = new TextEncoder().encode(clientId);
  const parts = [DOMAIN, nonce, id, identityPk];
  const out = new Uint8Array(parts.reduce((n, p) => n + 4 + p.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    view.setUint32(at, p.length);
    out.set(p, at + 4);
    at += 4 + p.length;
  }
  return out;
}

/** The client's proof: an Ed25519 signature of `proofMessage` (through OpenSSL; tweetnacl gives the same bytes). */
export function signProof(nonce: Uint8Array, clientId: string, identity: nacl.SignKeyPair): Uint8Array {
  return signBytes(identity.secretKey, proofMessage(nonce, clientId, identity.publicKey));
}

/** Whether `signature` proves that the holder of `identityPk` answered `nonce` as `clientId`. */
export function verifyProof(nonce: Uint8Array, clientId: string, identityPk: Uint8Array, signature: Uint8Array): boolean {
  if (nonce.length !== PROOF_NONCE_BYTES || identityPk.length !== nacl.sign.publicKeyLength || signature.length !== nacl.sign.signatureLength) return false;
  // OpenSSL, not tweetnacl's JavaScript (16 ms a verification here): a coordinator proves every connection.
  return verifyBytes(identityPk, () => proofMessage(nonce, clientId, identityPk), signature);
}
