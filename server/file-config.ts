/**
 * The coordinator's --config file, validated before anything starts (zod, strict): an unknown key or a value of
 * the wrong type is a ConfigError that names the field, so `"tokens": "demo"` is no longer read as the tokens
 * d, e, m, o, `"port": "abc"` no longer opens a UNIX socket and `"secure": "no"` no longer leaves secure on.
 * The `federated` and `aggregation` objects are checked by their own validators (shared/federated/config.ts,
 * aggregation.ts) when the coordinator starts, which name their fields the same way.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '../shared/federated/errors.js';
import { DEFAULT_TIMEOUTS_MS } from '../shared/protocol/events.js';
import { messageOf, systemCodeOf } from '../shared/errors/catalogue.js';

const timeoutKeys = Object.keys(DEFAULT_TIMEOUTS_MS) as (keyof typeof DEFAULT_TIMEOUTS_MS)[];
const ms = z
  .number()
  .int()
  .min(1)
  .max(24 * 3600 * 1000);

/** The schema of the file. */
export const fileConfigSchema = z
  .object({
    federated: z.record(z.string(), z.unknown()).optional(),
    secure: z.boolean().optional(),
    secagg: z
      .object({
        threshold: z.number().positive().optional(),
        threatModel: z.enum(['honest-but-curious', 'active']).optional(),
        graph: z
          .union([
            z.object({ kind: z.literal('complete') }).strict(),
            z.object({ kind: z.literal('harary'), degree: z.number().int().min(2) }).strict(),
            z.object({ kind: z.literal('auto'), dropout: z.number().min(0).lt(1).optional(), corrupted: z.number().min(0).lt(1).optional() }).strict(),
          ])
          .optional(),
        maxRestarts: z.number().int().min(0).max(10).optional(),
      })
      .strict()
      .optional(),
    aggregation: z.record(z.string(), z.unknown()).optional(),
    tokens: z.array(z.string().min(1).max(4096)).optional(),
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().min(1).optional(),
    runDir: z.string().min(1).optional(),
    dataset: z.string().min(1).optional(),
    dataDir: z.string().min(1).optional(),
    minClients: z.number().int().min(1).optional(),
    timeoutsMs: z
      .object(Object.fromEntries(timeoutKeys.map((k) => [k, ms.optional()])))
      .strict()
      .optional(),
  })
  .strict();

/** The file's content, checked. */
export type FileConfig = z.infer<typeof fileConfigSchema>;

/** Reads and checks the --config file; a ConfigError names the file, the field and what was expected. */
export function readFileConfig(file: string): FileConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `--config ${file}: cannot read it (${systemCodeOf(err) ?? messageOf(err)})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `--config ${file}: not valid JSON (${messageOf(err)})`);
  }
  const r = fileConfigSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const at = issue.path.join('.');
    const unknown =
      issue.code === 'unrecognized_keys'
        ? ` ${issue.keys.map((k) => `"${k}"`).join(', ')} (known: ${Object.keys(issue.path.length === 0 ? fileConfigSchema.shape : {}).join(', ') || 'see rfl coordinator --help'})`
        : '';
    throw new ConfigError(at === '' ? 'config' : at, `--config ${file}: ${at === '' ? '' : `field "${at}": `}${issue.message}${unknown}`);
  }
  return r.data;
}
