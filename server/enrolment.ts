/**
 * Enrolment: the list of client identities a coordinator admits (docs/spec/secure-aggregation.md §2.2). Each
 * entry is a client id and its Ed25519 public key; a connecting client must claim an enrolled pair and prove it
 * holds the key (identity-proof.ts). Sybils then cost enrolled keys, not tokens, and every identity counts as its
 * own principal in the privacy check of secure cohorts.
 *
 * File `enrolment.json`: `{ "format": "robust-fl-enrolment/1", "clients": [{ "clientId": "a", "identityPk": "<64 hex>" }] }`.
 * `rfl coordinator enrol --ids a,b,c --keys-dir keys --out enrolment.json` makes one identity file per client (to
 * hand to that client, for `rfl client --identity-file`) and the enrolment file (for `rfl coordinator --enrolment`).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../shared/federated/errors.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { writeIdentity } from '../client/identity-file.js';
import { messageOf, systemCodeOf } from '../shared/errors/catalogue.js';

const FORMAT = 'robust-fl-enrolment/1';
const clientIdRe = /^[A-Za-z0-9._:-]{1,256}$/;

const schema = z
  .object({
    format: z.literal(FORMAT),
    clients: z.array(
      z
        .object({ clientId: z.string().regex(clientIdRe, 'client ids are 1–256 letters, digits and . _ : -'), identityPk: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits') })
        .strict(),
    ),
  })
  .strict();

/** Client id → identity public key. */
export type Enrolment = ReadonlyMap<string, Uint8Array>;

/** Reads an enrolment file; a ConfigError naming the file and the field otherwise. */
export function readEnrolment(file: string): Enrolment {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError('enrolment', `--enrolment ${file}: cannot read it as JSON (${systemCodeOf(err) ?? messageOf(err)})`);
  }
  const r = schema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new ConfigError('enrolment', `--enrolment ${file}: field "${issue.path.join('.')}": ${issue.message}`);
  }
  const out = new Map<string, Uint8Array>();
  for (const c of r.data.clients) {
    if (out.has(c.clientId)) throw new ConfigError('enrolment', `--enrolment ${file}: client ${c.clientId} is listed twice`);
    out.set(c.clientId, Uint8Array.from(Buffer.from(c.identityPk, 'hex')));
  }
  return out;
}

/** Writes an enrolment file. */
export function writeEnrolment(file: string, enrolment: Enrolment): void {
  const clients = [...enrolment].map(([clientId, pk]) => ({ clientId, identityPk: Buffer.from(pk).toString('hex') }));
  writeFileSync(file, JSON.stringify({ format: FORMAT, clients }, null, 2) + '\n');
}

/**
 * Enrols clients: a new identity file `<keysDir>/<id>.key` (mode 0600) for each id, and their public keys added to
 * the enrolment file (created, or extended when it exists). Refuses an id already enrolled or a key file that
 * exists, before writing anything.
 */
export function enrol(ids: readonly string[], keysDir: string, enrolmentFile: string): Enrolment {
  const current = new Map(existsSync(enrolmentFile) ? readEnrolment(enrolmentFile) : []);
  for (const id of ids) {
    if (!clientIdRe.test(id)) throw new ConfigError('ids', `client id ${JSON.stringify(id)}: use 1–256 letters, digits and . _ : -`);
    if (current.has(id)) throw new ConfigError('ids', `client ${id} is already enrolled in ${enrolmentFile}`);
    if (existsSync(path.join(keysDir, `${id}.key`))) throw new ConfigError('keys-dir', `${path.join(keysDir, `${id}.key`)} exists: an identity is never overwritten`);
  }
  if (new Set(ids).size !== ids.length) throw new ConfigError('ids', 'an id is listed twice');
  for (const id of ids) {
    const kp = identityKeyPair();
    writeIdentity(path.join(keysDir, `${id}.key`), kp);
    current.set(id, kp.publicKey);
  }
  writeEnrolment(enrolmentFile, current);
  return current;
}
