/**
 * A matrix cell's coordinates and id, shared by the matrix runner and the report builder (which lists cells that
 * never started from the stored matrix configuration, without validating it).
 */

/** The coordinates of one matrix cell (the fields of `cell.json`). */
export interface CellCoords {
  /** Cell id, also its directory name under `cells/`. */
  id: string;
  /** Defense name (a method × an aggregation rule × a mode). */
  defense: string;
  /** Threat name (`none` for no corruption). */
  threat: string;
  /** Corruption level f, the fraction of corrupted clients, [0, 1]. */
  corruption: number;
  /** Seed of the run. */
  seed: number;
  /** The threat's behaviour kind, or null for no corruption. */
  behavior: string | null;
  /** The profile of the cell (docs/spec/decent-bva.md, "Profiles"); `reference` cells name their defense `<name>@reference`. */
  profile?: 'default' | 'reference';
  /**
   * The cell's data heterogeneity (the matrix's `heterogeneity` axis: a named client partition), absent where the
   * matrix has no such axis; its cells name their defense `<name>~<heterogeneity>`.
   */
  heterogeneity?: string;
}

/** Joins a defense and a heterogeneity name (`fedavg+median~a0.5`); `~` is not allowed in either name. */
export const HETEROGENEITY_MARK = '~';

/** The defense name of a cell on the heterogeneity axis: `<defense>~<heterogeneity>`. */
export function heterogeneousDefense(defense: string, heterogeneity: string | undefined): string {
  return heterogeneity === undefined ? defense : `${defense}${HETEROGENEITY_MARK}${heterogeneity}`;
}

/** Splits `<defense>~<heterogeneity>` (the heterogeneity is undefined for a plain name). */
export function splitHeterogeneity(defense: string): { defense: string; heterogeneity: string | undefined } {
  const at = defense.lastIndexOf(HETEROGENEITY_MARK);
  return at < 0 ? { defense, heterogeneity: undefined } : { defense: defense.slice(0, at), heterogeneity: defense.slice(at + 1) };
}

/** The defense name of a cell: the matrix's defense name, with `@reference` for the reference profile. */
export function profiledDefense(defense: string, profile: 'default' | 'reference'): string {
  return profile === 'reference' ? `${defense}@reference` : defense;
}

/** `defense__threat__f<percent, '.' as 'p'>__s<seed>`, e.g. `fed-bva__sign-flip__f20__s1`. */
export function cellId(defense: string, threat: string, corruption: number, seed: number): string {
  return `${defense}__${threat}__f${String(Math.round(corruption * 1000) / 10).replace('.', 'p')}__s${seed}`;
}
