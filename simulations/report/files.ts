/**
 * The shapes of the results files a report reads (written by simulations/engine.ts and
 * simulations/benchmark/cli.ts), as zod schemas that check only the fields the report uses and let every other
 * field through. Loose on purpose: a report must still build from results written by an older or newer engine,
 * so an unknown field is never an error, and a missing optional one is shown as absent.
 */
import { z } from 'zod';
import type { SimRoundRecord } from '../engine.js';
import type { Scenario } from '../scenario.js';

const num = z.number();

/** `cell.json` of a matrix cell: its coordinates in the matrix. */
export const CellFileSchema = z
  .object({
    id: z.string().min(1),
    defense: z.string().min(1),
    threat: z.string().min(1),
    corruption: num,
    seed: num,
    behavior: z.string().nullable(),
    /** Training profile; absent means `default`. A non-default profile's defense is named `<defense>@<profile>`. */
    profile: z.string().optional(),
    /** The heterogeneity axis's entry; the defense is then named `<defense>~<heterogeneity>`. */
    heterogeneity: z.string().optional(),
  })
  .passthrough();

/** `results.json` of a finished simulation (SimulationResult without weights, plus `machine` and `date`). */
export const ResultsFileSchema = z
  .object({
    scenario: z.string(),
    rounds: num,
    completedRounds: num,
    clients: num,
    workers: num,
    final: z.object({ accuracy: z.record(z.string(), num), asr: num.optional(), evaluated: num }).passthrough(),
    timing: z.object({ roundMs: num, trainMs: num, bvaMs: num, secaggMs: num, otherMs: num, evalMs: num, clientUpdatesPerSec: num, connectMs: num }).passthrough(),
    wallMs: num,
    /** Processes a resumed run took (absent: one); `wallMs` sums their time up to each one's last completed round. */
    parts: num.optional(),
    rssMb: num,
    connectedRssMb: num,
    machine: z.object({ cpu: z.string(), cores: num, node: z.string(), tfjs: z.string(), backend: z.string(), backendDetail: z.string() }).partial().passthrough().optional(),
    date: z.string().optional(),
    /** The attacks' parameters as the run used them (written since results files carry them). */
    attacks: z.record(z.string(), z.object({ kind: z.string() }).passthrough()).optional(),
  })
  .passthrough();

/** A parsed `results.json`. */
export type ResultsFile = z.infer<typeof ResultsFileSchema>;

/** One line of `rounds.jsonl` (only the fields the report reads are checked). */
export const RoundLineSchema = z
  .object({
    round: z.number().int(),
    status: z.string(),
    cohort: num,
    trained: num,
    ms: z.object({ round: num, train: num, bva: num, secagg: num, other: num, eval: num, coordinator: z.record(z.string(), num).optional() }).passthrough(),
    bytesSent: num,
    eval: z.record(z.string(), num).optional(),
  })
  .passthrough();

/** A round record as the report holds it (the engine's type; the schema above checked what the report uses). */
export type RoundRecord = SimRoundRecord;

/** `scenario.json`: only what identifies a run when it has no `cell.json` is required. */
export const ScenarioFileSchema = z
  .object({
    name: z.string(),
    federated: z.object({ method: z.string(), seed: num }).passthrough(),
    secure: z.boolean(),
    aggregation: z.object({ rule: z.string() }).passthrough(),
    corrupted: z
      .object({ fraction: num, behavior: z.object({ kind: z.string() }).passthrough() })
      .passthrough()
      .optional(),
  })
  .passthrough();

/** A scenario as the report holds it (the engine's type; older files may lack some fields, so read with care). */
export type ScenarioFile = Scenario;

/** `matrix.json` of a benchmark matrix directory. */
export const MatrixFileSchema = z
  .object({
    name: z.string(),
    description: z.string().optional(),
    config: z.unknown().optional(),
    createdAt: z.string().optional(),
    /** `--set` overrides the matrix was run with (they may contradict the preset's description). */
    overrides: z.array(z.string()).optional(),
    software: z.object({ node: z.string(), tfjs: z.string(), robustFl: z.string() }).partial().passthrough().optional(),
    machine: z.object({ cpu: z.string(), cores: num }).partial().passthrough().optional(),
  })
  .passthrough();

/** A parsed `matrix.json`. */
export type MatrixFile = z.infer<typeof MatrixFileSchema>;

/** The first schema issue as `field: message`, for a one-line reason in the report. */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (issue === undefined) return 'invalid';
  return `${issue.path.join('.') || '(root)'}: ${issue.message}`;
}
