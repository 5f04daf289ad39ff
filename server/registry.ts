/**
 * Client identities: each client id is bound to its Ed25519 identity public key at its first proven join (or in
 * advance, by an enrolment list), and the binding is kept in the run directory, so a later connection claiming
 * the id with another key is refused (even after a coordinator restart). The registry also remembers which token
 * (by its SHA-256, never the token itself) each identity joined with: open enrolment caps the identities one token
 * may bind, and the privacy check counts a token's identities as one principal. The secure-aggregation session
 * verifies signatures against these keys.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ProtocolError } from '../shared/protocol/errors.js';

/** The SHA-256 of a token, hex: what the registry stores and compares. */
export function tokenDigest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

interface Entry {
  pk: Uint8Array;
  /** SHA-256 of the token the identity first joined with; '' for identities bound before tokens were kept. */
  token: string;
}

/** Client id → identity key (and token digest), persisted as JSON (hex keys). */
export class ClientRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly path: string) {
    if (existsSync(path)) {
      const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      if (raw['format'] === 'robust-fl-identities/2') {
        for (const [id, e] of Object.entries(raw['clients'] as Record<string, { identityPk: string; token: string }>)) {
          this.entries.set(id, { pk: Uint8Array.from(Buffer.from(e.identityPk, 'hex')), token: e.token });
        }
      } else {
        // Format 1: { id: pkHex }.
        for (const [id, hex] of Object.entries(raw as Record<string, string>)) this.entries.set(id, { pk: Uint8Array.from(Buffer.from(hex, 'hex')), token: '' });
      }
    }
  }

  /** Throws ProtocolError('auth') when `clientId` is bound to a key other than `pk`. */
  check(clientId: string, pk: Uint8Array): void {
    const known = this.entries.get(clientId);
    if (known !== undefined && Buffer.compare(Buffer.from(known.pk), Buffer.from(pk)) !== 0) {
      throw new ProtocolError('auth', `client ${clientId} is bound to another identity key`);
    }
  }

  /** Whether `clientId` is bound already. */
  has(clientId: string): boolean {
    return this.entries.has(clientId);
  }

  /** How many identities joined with the token of this digest. */
  identitiesOfToken(digest: string): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.token === digest) n++;
    return n;
  }

  /** The token digest `clientId` joined with ('' if unknown). */
  tokenOf(clientId: string): string {
    return this.entries.get(clientId)?.token ?? '';
  }

  /**
   * Binds `clientId` to `pk` (and the token's digest) at first join; throws ProtocolError('auth') when it is bound
   * to another key. Call it only for a client that proved it holds `pk` (identity-proof.ts), or an impostor could
   * take an unbound id.
   */
  bind(clientId: string, pk: Uint8Array, token = ''): void {
    this.check(clientId, pk);
    if (this.entries.has(clientId)) return;
    this.entries.set(clientId, { pk: Uint8Array.from(pk), token });
    const tmp = `${this.path}.tmp`;
    const clients = Object.fromEntries([...this.entries].map(([id, e]) => [id, { identityPk: Buffer.from(e.pk).toString('hex'), token: e.token }]));
    writeFileSync(tmp, JSON.stringify({ format: 'robust-fl-identities/2', clients }, null, 2));
    renameSync(tmp, this.path);
  }

  /** The identity key bound to `clientId`, if any. */
  identity(clientId: string): Uint8Array | undefined {
    return this.entries.get(clientId)?.pk;
  }
}
