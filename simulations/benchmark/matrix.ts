/**
 * Benchmark matrices: a base scenario crossed with defenses × threats × corruption levels × seeds. A defense is a
 * method with a mode and an aggregation rule (threats-and-evaluation.md §6: "a decent-bva.md method × an
 * aggregation rule × a mode"); a threat is a corrupted-client behaviour (or `none`). Every cell is validated
 * before any runs, so a typo fails at start-up, not after an hour.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../shared/federated/errors.js';
import { applyOverrides, resolveScenario, type Scenario } from '../scenario.js';
import { cellId, heterogeneousDefense, profiledDefense, type CellCoords } from './cell-id.js';

const Named = z.object({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+_-]*$/, 'letters, digits and . + _ - only') }).passthrough();
/** A defense may pin its profile (then the matrix's `profiles` do not cross it). */
const Defense = Named.extend({ profile: z.enum(['default', 'reference']).optional() });
/** Threats may not set a profile: it is an axis of the matrix (or pinned by a defense). */
const Threat = Named.refine((t) => !('profile' in t), { message: 'a threat cannot set profile; use the matrix field profiles (or profile: on a defense)', path: ['profile'] });

/** A matrix file. */
const MatrixSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    /** Scenario fields every cell shares. */
    base: z.record(z.string(), z.unknown()),
    /** Scenario overrides per defense (method, secure, aggregation, …). */
    defenses: z.array(Defense).min(1),
    /** Threats: `behavior` (a behaviour spec) plus optional `selection`, `poisonBva`; `name: none` for no corruption. */
    threats: z
      .array(Threat)
      .min(1)
      .default([{ name: 'none' }]),
    /** Corruption levels f applied to every threat with a behaviour (f = 0 is the `none` threat). */
    corruption: z.array(z.number().min(0).max(1)).default([0.2]),
    seeds: z.array(z.number().int()).min(1).default([1]),
    /**
     * Profiles crossed with every defense (docs/spec/decent-bva.md, "Profiles"); a `reference` cell's defense is
     * named `<name>@reference`. A defense may pin its own with `profile:` (then it is not crossed).
     */
    profiles: z
      .array(z.enum(['default', 'reference']))
      .min(1)
      .refine((p) => new Set(p).size === p.length, 'each profile once')
      .default(['default']),
    /**
     * Data heterogeneity crossed with every defense: named client partitions (scenario `partition`, e.g.
     * `{ kind: dirichlet, alpha: 0.5 }` or `{ kind: iid }`), each replacing the base's. A cell's defense is named
     * `<name>~<heterogeneity>`; the report then draws worst-case heatmaps over f × heterogeneity per defense.
     */
    heterogeneity: z
      .array(z.object({ name: Named.shape.name, partition: z.record(z.string(), z.unknown()) }).strict())
      .min(1)
      .optional(),
  })
  .strict();

/** A parsed matrix. */
export type MatrixConfig = z.infer<typeof MatrixSchema>;

/** One cell of the matrix: its coordinates (those of `cell.json`) and its validated scenario. */
export interface Cell extends CellCoords {
  scenario: Scenario;
}

/** Reads a matrix file (YAML or JSON) and applies `path=value` overrides (e.g. `base.rounds=20`). */
export function loadMatrix(file: string, overrides: readonly string[] = []): MatrixConfig {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ConfigError('config', `cannot read matrix ${file}: ${(err as Error).message}`);
  }
  return parseMatrix(applyOverrides(raw, overrides));
}

/** Validates a matrix object. */
export function parseMatrix(raw: unknown): MatrixConfig {
  const r = MatrixSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = issue.path.join('.') || 'matrix';
    throw new ConfigError(field, `matrix: ${field}: ${issue.message}`);
  }
  const names = (list: { name: string }[], what: string): void => {
    const seen = new Set<string>();
    for (const { name } of list) {
      if (seen.has(name)) throw new ConfigError(what, `matrix: ${what} "${name}" appears twice`);
      seen.add(name);
    }
  };
  names(r.data.defenses, 'defenses');
  if ('profile' in r.data.base) throw new ConfigError('base.profile', 'matrix: base.profile: the profile is an axis of the matrix; use profiles: [reference] (or profile: on a defense)');
  names(r.data.threats, 'threats');
  if (r.data.heterogeneity !== undefined) {
    names(r.data.heterogeneity, 'heterogeneity');
    if ('partition' in r.data.base) throw new ConfigError('base.partition', 'matrix: base.partition: the partition is the heterogeneity axis of this matrix; set it per entry of heterogeneity:');
    for (const d of r.data.defenses) if ('partition' in d) throw new ConfigError('defenses', `matrix: defense "${d.name}" sets partition, which the heterogeneity axis sets`);
  }
  return r.data;
}

/** Every cell of the matrix, each scenario validated (throws ConfigError naming the cell and the field). */
export function expandMatrix(m: MatrixConfig): Cell[] {
  const cells: Cell[] = [];
  type Profile = 'default' | 'reference';
  const crossed = m.defenses.flatMap((d): { defense: typeof d; profile: Profile }[] => {
    const own = (d as { profile?: unknown }).profile;
    if (own === 'default' || own === 'reference') return [{ defense: d, profile: own }];
    return m.profiles.map((profile) => ({ defense: d, profile }));
  });
  const hetero: ({ name: string; partition: Record<string, unknown> } | undefined)[] = m.heterogeneity ?? [undefined];
  for (const { defense, profile } of crossed) {
    for (const h of hetero) {
      for (const threat of m.threats) {
        const { name: tName, behavior, selection, poisonBva, ...threatOverrides } = threat as Record<string, unknown> & { name: string };
        const levels = behavior === undefined ? [0] : m.corruption.filter((f) => f > 0);
        for (const f of levels) {
          for (const seed of m.seeds) {
            const { name: rawName, ...defenseOverrides } = defense as Record<string, unknown> & { name: string };
            const dName = heterogeneousDefense(profiledDefense(rawName, profile), h?.name);
            const id = cellId(dName, tName, f, seed);
            const raw: Record<string, unknown> = { ...m.base, ...defenseOverrides, ...threatOverrides, ...(h !== undefined ? { partition: h.partition } : {}), seed, name: id, profile };
            if (behavior !== undefined) raw['corrupted'] = { fraction: f, behavior, ...(selection !== undefined ? { selection } : {}), ...(poisonBva !== undefined ? { poisonBva } : {}) };
            let scenario: Scenario;
            try {
              scenario = resolveScenario(raw);
            } catch (err) {
              const e = err as Error & { fields?: string[] };
              throw new ConfigError(e.fields ?? 'matrix', `matrix cell ${id}: ${e.message}`);
            }
            const kind = (behavior as { kind?: string } | undefined)?.kind ?? null;
            cells.push({
              id,
              defense: dName,
              threat: tName,
              corruption: f,
              seed,
              behavior: kind,
              ...(profile !== 'default' ? { profile } : {}),
              ...(h !== undefined ? { heterogeneity: h.name } : {}),
              scenario,
            });
          }
        }
      }
    }
  }
  return cells;
}
