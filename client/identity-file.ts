/**
 * A client's Ed25519 identity on disk: JSON `{ publicKey, secretKey }` in hex, mode 0600. `rfl client` creates
 * one on first use; `rfl coordinator enrol` creates them in advance and lists their public keys for the
 * coordinator (server/enrolment.ts).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import nacl from 'tweetnacl';
import { CodedError } from '../shared/errors/catalogue.js';

/** A file that is not a usable identity, or one that would be overwritten; `rfl` prints it as one line. */
export class IdentityError extends CodedError<'identity'> {
  override readonly name = 'IdentityError';

  /** `message` names the file and the problem. */
  constructor(message: string) {
    super('identity', message);
  }
}

/** Reads an identity file; a named error when it is not one. */
export function readIdentity(file: string): nacl.SignKeyPair {
  const raw: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const secretKey = typeof raw === 'object' && raw !== null && 'secretKey' in raw ? raw.secretKey : undefined;
  if (typeof secretKey !== 'string' || !/^[0-9a-f]{128}$/.test(secretKey)) throw new IdentityError(`${file}: not an identity file (expected "secretKey": 128 hex digits)`);
  return nacl.sign.keyPair.fromSecretKey(Uint8Array.from(Buffer.from(secretKey, 'hex')));
}

/** Writes a new identity file with mode 0600; refuses to overwrite one. */
export function writeIdentity(file: string, kp: nacl.SignKeyPair): void {
  if (existsSync(file)) throw new IdentityError(`${file} exists: an identity is never overwritten (delete it first if you mean to replace it)`);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify({ publicKey: Buffer.from(kp.publicKey).toString('hex'), secretKey: Buffer.from(kp.secretKey).toString('hex') }) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

/** The identity in `file`, created (mode 0600) if absent; `onCreate` is told when it was. */
export function loadOrCreateIdentity(file: string, onCreate?: (file: string) => void): nacl.SignKeyPair {
  if (existsSync(file)) return readIdentity(file);
  const kp = nacl.sign.keyPair();
  writeIdentity(file, kp);
  onCreate?.(file);
  return kp;
}
