/**
 * Edits checkpoint files the way a corruption, a forgery or an older version of this program would leave them
 * (server/run-store.ts lays them out): a header or body edit with the checksum recomputed (or kept, to test the
 * checksum itself), and the same checkpoint rewritten in format 2 or format 1, which had no rule state.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** A checksummed checkpoint's parts: the format on its first line, the header, and the binary body. */
interface Parts {
  magic: string;
  digest: string;
  header: Record<string, unknown>;
  body: Buffer;
}

function split(file: string): Parts {
  const buf = readFileSync(file);
  const first = buf.indexOf(0x0a);
  const [magic, digest] = buf.subarray(0, first).toString().split(' ') as [string, string];
  const content = buf.subarray(first + 1);
  const nl = content.indexOf(0x0a);
  return { magic, digest, header: JSON.parse(content.subarray(0, nl).toString()) as Record<string, unknown>, body: Buffer.from(content.subarray(nl + 1)) };
}

function join(file: string, magic: string, header: Record<string, unknown>, body: Buffer, digest?: string): void {
  const content = Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), body]);
  writeFileSync(file, Buffer.concat([Buffer.from(`${magic} ${digest ?? createHash('sha256').update(content).digest('hex')}\n`), content]));
}

/** Rewrites a checksummed checkpoint: edits its header and/or body, then (unless `keepDigest`) recomputes the checksum. */
export function rewriteCheckpoint(file: string, edit: (header: Record<string, unknown>, body: Buffer) => Buffer | void, keepDigest = false): void {
  const p = split(file);
  const body = edit(p.header, p.body) ?? p.body;
  join(file, p.magic, p.header, body, keepDigest ? p.digest : undefined);
}

/** The byte length of the weights and shared set of a checkpoint's body (what formats 1 and 2 hold). */
const floatBytes = (header: Record<string, unknown>): number => 4 * ((header['weights'] as number) + (header['shared'] as number));

/** Rewrites a format 3 checkpoint as format 2 wrote it: the same weights and shared set, no rule state. */
export function toFormat2(file: string): void {
  const p = split(file);
  const { ruleState: _dropped, ...header } = p.header;
  join(file, 'robust-fl-checkpoint/2', { ...header, format: 'robust-fl-checkpoint/2' }, p.body.subarray(0, floatBytes(p.header)));
}

/** Rewrites a format 3 checkpoint as format 1 wrote it: no checksum line and no rule state. */
export function toFormat1(file: string): void {
  const p = split(file);
  const { ruleState: _dropped, randomState: _random, ...header } = p.header;
  writeFileSync(file, Buffer.concat([Buffer.from(JSON.stringify({ ...header, format: 'robust-fl-checkpoint/1' }) + '\n'), p.body.subarray(0, floatBytes(p.header))]));
}
