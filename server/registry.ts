/**
 * Client identities: each client id is bound to its Ed25519 identity public key at first join, and the binding
 * is kept in the run directory, so a later connection claiming the id with another key is refused (even after a
 * coordinator restart). The secure-aggregation session verifies signatures against these keys.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ProtocolError } from '../shared/protocol/errors.js';

/** Client id → identity key, persisted as JSON (hex keys). */
export class ClientRegistry {
  private readonly keys = new Map<string, Uint8Array>();

  constructor(private readonly path: string) {
    if (existsSync(path)) {
      const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
      for (const [id, hex] of Object.entries(raw)) this.keys.set(id, Uint8Array.from(Buffer.from(hex, 'hex')));
    }
  }

  /** Throws ProtocolError('auth') when `clientId` is bound to a key other than `pk`. */
  check(clientId: string, pk: Uint8Array): void {
    const known = this.keys.get(clientId);
    if (known !== undefined && Buffer.compare(Buffer.from(known), Buffer.from(pk)) !== 0) {
      throw new ProtocolError('auth', `client ${clientId} is bound to another identity key`);
    }
  }

  /**
   * Binds `clientId` to `pk` at first join; throws ProtocolError('auth') when it is bound to another key. Call it
   * only for a client that proved it holds `pk` (identity-proof.ts), or an impostor could take an unbound id.
   */
  bind(clientId: string, pk: Uint8Array): void {
    this.check(clientId, pk);
    if (this.keys.has(clientId)) return;
    this.keys.set(clientId, Uint8Array.from(pk));
    const tmp = `${this.path}.tmp`;
    writeFileSync(tmp, JSON.stringify(Object.fromEntries([...this.keys].map(([id, k]) => [id, Buffer.from(k).toString('hex')])), null, 2));
    renameSync(tmp, this.path);
  }

  /** The identity key bound to `clientId`, if any. */
  identity(clientId: string): Uint8Array | undefined {
    return this.keys.get(clientId);
  }
}
