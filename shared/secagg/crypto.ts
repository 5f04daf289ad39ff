/**
 * Cryptographic building blocks of secure aggregation, one module per concern; this file only re-exports them so
 * that importers written before the split still compile. New code imports the module it needs:
 *
 * - `labels.ts`: domain-separation labels, KEY_BYTES, SHARE_KEYS_PHASE and the size checks (§3.2).
 * - `keys.ts`: round and identity key pairs, X25519 agreement, the small-order check, `wipe`.
 * - `session-id.ts`: member order and indices, round-key validation, `sha256`, the session id (§3.2).
 * - `kdf.ts`: HKDF-SHA256 and the pairwise-mask, self-mask and share-box keys (§3.2).
 * - `prg.ts`: the AES-256-CTR mask PRG, `maskSign` and `maskInput` (§3.1, §3.2).
 * - `share-boxes.ts`: sealing and opening share boxes and the encoding of their payload (§3.3, §4).
 * - `signed-messages.ts`: Ed25519 signatures of advertisements, commitments, box checks and U3 (§6).
 *
 * Paper: Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", ACM CCS 2017
 * (arXiv 1611.04482); docs/spec/secure-aggregation.md §3 fixes what the paper leaves abstract.
 */

export { KEY_BYTES, LABELS, SHARE_KEYS_PHASE } from './labels.js';
export { agree, identityKeyPair, isLowOrderPublicKey, publicKeyMatches, publicKeyOf, randomSeed, roundKeyPairs, wipe, type RoundKeyPairs } from './keys.js';
export * from './session-id.js';
export * from './kdf.js';
export * from './prg.js';
export * from './share-boxes.js';
export * from './signed-messages.js';
