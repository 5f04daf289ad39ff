/**
 * The cells a benchmark matrix should hold, from the `config` stored in its `matrix.json`, so that a cell that
 * never started (no directory yet) or was interrupted before writing `cell.json` is still listed in the report.
 *
 * This repeats only the coordinate part of `expandMatrix` (simulations/benchmark/matrix.ts: defenses, threats,
 * levels and seeds; the id comes from the same `cellId`) and deliberately not its scenario validation: results written by another version
 * of the code must still be reportable even when their matrix would no longer validate. A test checks that both
 * give the same coordinates.
 */
import { cellId, heterogeneousDefense, profiledDefense, type CellCoords } from '../benchmark/cell-id.js';

export type { CellCoords };

type Named = { name?: unknown } & Record<string, unknown>;

/** Every cell's coordinates, in the matrix's order; [] when `config` does not look like a matrix. */
export function expectedCells(config: unknown): CellCoords[] {
  if (typeof config !== 'object' || config === null) return [];
  const c = config as { defenses?: unknown; threats?: unknown; corruption?: unknown; seeds?: unknown; profiles?: unknown; heterogeneity?: unknown };
  const list = (v: unknown): Named[] => (Array.isArray(v) ? v.filter((x): x is Named => typeof x === 'object' && x !== null && typeof (x as Named).name === 'string') : []);
  const nums = (v: unknown, fallback: number[]): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : fallback);
  const defenses = list(c.defenses);
  // matrix.ts's defaults: threats [none], corruption [0.2], seeds [1].
  const threats = c.threats === undefined ? [{ name: 'none' }] : list(c.threats);
  const levels = nums(c.corruption, [0.2]);
  const seeds = nums(c.seeds, [1]);
  type Profile = 'default' | 'reference';
  const isProfile = (p: unknown): p is Profile => p === 'default' || p === 'reference';
  const profiles: Profile[] = Array.isArray(c.profiles) ? c.profiles.filter(isProfile) : ['default'];
  // A defense that pins its own profile is not crossed with the matrix's profiles (as in matrix.ts).
  const crossed = defenses.flatMap((d) => (isProfile(d['profile']) ? [{ d, profile: d['profile'] }] : profiles.map((profile) => ({ d, profile }))));
  // The heterogeneity axis, when the matrix has one, crosses every defense (as in matrix.ts).
  const hetero: (string | undefined)[] = c.heterogeneity === undefined ? [undefined] : list(c.heterogeneity).map((h) => String(h.name));
  const out: CellCoords[] = [];
  for (const { d, profile } of crossed) {
    for (const h of hetero) {
      const defense = heterogeneousDefense(profiledDefense(String(d.name), profile), h);
      for (const t of threats) {
        const behavior = t['behavior'] as { kind?: unknown } | undefined;
        // A threat without a behaviour is the uncorrupted run, so it has one level, f = 0; others skip f = 0.
        const fs = behavior === undefined ? [0] : levels.filter((f) => f > 0);
        for (const f of fs) {
          for (const seed of seeds) {
            out.push({
              id: cellId(defense, String(t.name), f, seed),
              defense,
              threat: String(t.name),
              corruption: f,
              seed,
              behavior: typeof behavior?.kind === 'string' ? behavior.kind : null,
              ...(profile !== 'default' ? { profile } : {}),
              ...(h !== undefined ? { heterogeneity: h } : {}),
            });
          }
        }
      }
    }
  }
  return out;
}

/** Defense and threat names in the order the matrix lists them (the report keeps that order). */
export function configOrder(config: unknown): { defenses: string[]; threats: string[] } {
  const names = (v: unknown): string[] => (Array.isArray(v) ? v.map((x) => (x as Named | null)?.name).filter((n): n is string => typeof n === 'string') : []);
  if (typeof config !== 'object' || config === null) return { defenses: [], threats: [] };
  const c = config as { defenses?: unknown; threats?: unknown };
  // Defense names as cells carry them: each matrix name, crossed with the profiles as expectedCells does.
  const defenses: string[] = [];
  for (const e of expectedCells(config)) if (!defenses.includes(e.defense)) defenses.push(e.defense);
  return { defenses: defenses.length > 0 ? defenses : names(c.defenses), threats: names(c.threats) };
}
