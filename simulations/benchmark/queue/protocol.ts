/**
 * What travels through Redis between the submitter of a distributed matrix (`rfl benchmark --queue`) and its
 * workers (`rfl benchmark worker`): the job payload (a cell to run), the progress a worker reports, and the result
 * it sends back (the cell's run directory, file by file). Everything read back from Redis is untrusted input: each
 * side checks it with these zod schemas before acting on it, and a message that fails gets an error that names the
 * job and the field, and changes nothing else (docs/distributed.md).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { MatrixConfig } from '../matrix.js';

/** Version of the messages below; a worker refuses a job of another version. */
export const QUEUE_PROTOCOL = 1;

/** The BullMQ queue name both sides use unless told otherwise (`--queue-name`). */
export const DEFAULT_QUEUE_NAME = 'rfl-cells';

/** The BullMQ job name of a cell. */
export const CELL_JOB = 'cell';

/**
 * The matrix's fingerprint: SHA-256 of its validated configuration, first 16 hex digits. It qualifies job ids
 * (two matrices on one queue may share cell ids) and lets a worker check that the matrix it re-validated is the
 * one the submitter sent.
 */
export function matrixFingerprint(matrix: MatrixConfig): string {
  return createHash('sha256').update(JSON.stringify(matrix)).digest('hex').slice(0, 16);
}

/**
 * The job id of a cell: `<fingerprint>.<cell id>`. One job per cell and matrix, so queuing a cell again (a second
 * submission, or the submitter re-adding jobs a Redis restart lost) is a no-op while its job exists. BullMQ refuses
 * `:` in custom ids; cell ids never hold one (matrix.ts names allow letters, digits and `. + _ -`).
 */
export function jobIdOf(fingerprint: string, cellId: string): string {
  return `${fingerprint}.${cellId}`;
}

/** The cell id of a job id made by `jobIdOf` for this fingerprint, or undefined for another matrix's job. */
export function cellIdOf(fingerprint: string, jobId: string | undefined): string | undefined {
  return jobId !== undefined && jobId.startsWith(`${fingerprint}.`) ? jobId.slice(fingerprint.length + 1) : undefined;
}

const Fingerprint = z.string().regex(/^[0-9a-f]{16}$/, '16 lower-case hex digits');
const CellId = z.string().min(1).max(400);

/** A cell to run: the whole validated matrix (the worker expands it again, validating every cell) and the cell's id. */
export const CellJobSchema = z
  .object({
    protocol: z.literal(QUEUE_PROTOCOL),
    fingerprint: Fingerprint,
    /** The matrix configuration as `parseMatrix` returned it on the submitting side. */
    matrix: z.record(z.string(), z.unknown()),
    cell: CellId,
  })
  .strict();
export type CellJob = z.infer<typeof CellJobSchema>;

/** What a worker reports while it runs a cell (BullMQ job progress). */
export const CellProgressSchema = z
  .object({
    /** The worker's name (`host:pid` unless `--name`). */
    worker: z.string().min(1).max(200),
    /** Rounds completed so far (0: starting). */
    round: z.number().int().min(0),
    rounds: z.number().int().min(1),
  })
  .strict();
export type CellProgress = z.infer<typeof CellProgressSchema>;

/**
 * A file name a result may carry: a plain name in the cell's directory (no folder, no `..`, nothing hidden), so a
 * result can never write outside the cell it is for.
 */
export const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The most bytes one file of a result may hold once decompressed, and all its files together (MiB · 2^20). */
export const MAX_FILE_BYTES = 256 * 2 ** 20;
export const MAX_RESULT_BYTES = 512 * 2 ** 20;

/** One file of a cell's run directory: gzip-compressed, base64, with its decompressed size and SHA-256. */
export const ResultFileSchema = z
  .object({
    name: z.string().regex(FILE_NAME, 'a plain file name (letters, digits, . _ -; no folder)'),
    bytes: z.number().int().min(0).max(MAX_FILE_BYTES),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, '64 lower-case hex digits'),
    gzipBase64: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64'),
  })
  .strict();
export type ResultFile = z.infer<typeof ResultFileSchema>;

/** A finished cell, as a worker sends it back (the BullMQ job's return value). */
export const CellResultSchema = z
  .object({
    protocol: z.literal(QUEUE_PROTOCOL),
    fingerprint: Fingerprint,
    cell: CellId,
    worker: z.string().min(1).max(200),
    files: z
      .array(ResultFileSchema)
      .min(1)
      .refine((fs) => new Set(fs.map((f) => f.name)).size === fs.length, 'each file name once')
      .refine((fs) => fs.reduce((a, f) => a + f.bytes, 0) <= MAX_RESULT_BYTES, `at most ${MAX_RESULT_BYTES / 2 ** 20} MiB in all`),
  })
  .strict();
export type CellResult = z.infer<typeof CellResultSchema>;

/** The first problem zod found, as `field: message` (the field path joined with dots). */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const field = issue.path.join('.');
  return field === '' ? issue.message : `${field}: ${issue.message}`;
}
