/**
 * A cell's run directory as the files of a queue result (protocol.ts `ResultFile`), and back: the worker packs
 * what its simulation wrote; the submitter unpacks and checks every file (name, size, SHA-256) before any of it
 * reaches the matrix directory.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { FILE_NAME, MAX_FILE_BYTES, MAX_RESULT_BYTES, type ResultFile } from './protocol.js';

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/**
 * Every file of `dir` as a result file, sorted by name. The simulation writes only plain files there; anything
 * else (a folder, a name the protocol refuses, an oversized file) is an error, since the submitter could not
 * write it back as a local run would have.
 */
export function packRunDir(dir: string): ResultFile[] {
  let total = 0;
  return readdirSync(dir)
    .sort()
    .map((name) => {
      const file = path.join(dir, name);
      if (!statSync(file).isFile()) throw new Error(`${file}: a cell's run directory holds only files`);
      if (!FILE_NAME.test(name)) throw new Error(`${file}: a name the queue protocol cannot carry`);
      const content = readFileSync(file);
      total += content.length;
      if (content.length > MAX_FILE_BYTES || total > MAX_RESULT_BYTES)
        throw new Error(`${file}: the cell's files exceed the queue's limits (${MAX_FILE_BYTES / 2 ** 20} MiB a file, ${MAX_RESULT_BYTES / 2 ** 20} MiB in all)`);
      return { name, bytes: content.length, sha256: sha256(content), gzipBase64: gzipSync(content).toString('base64') };
    });
}

/**
 * The contents of validated result files (the schema already checked names and declared sizes), by name. Throws
 * when a file does not decompress to exactly its declared size and SHA-256.
 */
export function unpackFiles(files: readonly ResultFile[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const f of files) {
    let content: Buffer;
    try {
      // The declared size bounds the decompression, so a small message cannot expand into an exhausted memory.
      content = gunzipSync(Buffer.from(f.gzipBase64, 'base64'), { maxOutputLength: Math.max(f.bytes, 1) });
    } catch (err) {
      throw new Error(`file ${f.name}: does not decompress to its declared ${f.bytes} bytes (${(err as Error).message})`);
    }
    if (content.length !== f.bytes) throw new Error(`file ${f.name}: ${content.length} bytes, ${f.bytes} declared`);
    if (sha256(content) !== f.sha256) throw new Error(`file ${f.name}: its SHA-256 differs from the declared one`);
    out.set(f.name, content);
  }
  return out;
}
