/**
 * The per-cell metrics a report aggregates, named by their JSON path in `results.json` (`final.accuracy.clean`,
 * `timing.trainMs`, …) so that any number in a table can be looked up in the file it came from. The two derived
 * metrics are prefixed `derived.` and say how they are computed.
 */
import { STANDARD_ATTACKS, surrogateLetter, type AttackSpec } from '../../shared/attacks/spec.js';
import type { CellRecord } from './load.js';

/** Attack names in the order of STANDARD_ATTACKS (clean, FGSM, PGD-10, PGD-20, …, strong PGD). */
const ATTACK_ORDER = Object.keys(STANDARD_ATTACKS);

/** Sorts attack names: STANDARD_ATTACKS order first, then unknown names alphabetically. */
export function sortAttacks(names: Iterable<string>): string[] {
  const rank = (a: string): number => {
    const k = ATTACK_ORDER.indexOf(a);
    return k < 0 ? ATTACK_ORDER.length : k;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

/** Every attack any finished cell reports a final accuracy for, in display order. */
export function attacksOf(cells: readonly CellRecord[]): string[] {
  return sortAttacks(cells.flatMap((c) => Object.keys(c.results?.final.accuracy ?? {})));
}

/** The components suites recorded (`final.components`: AutoAttack's stages, transfer's surrogates), as [attack, component] in display order. */
export function componentsOf(cells: readonly CellRecord[]): [string, string][] {
  const seen = new Map<string, string[]>();
  for (const c of cells) {
    const comps = (c.results?.final as { components?: Record<string, Record<string, number>> } | undefined)?.components ?? {};
    for (const [a, byName] of Object.entries(comps)) {
      const list = seen.get(a) ?? [];
      for (const n of Object.keys(byName)) if (!list.includes(n)) list.push(n);
      seen.set(a, list);
    }
  }
  return sortAttacks(seen.keys()).flatMap((a) => seen.get(a)!.map((n): [string, string] => [a, n]));
}

/** Metric name of a suite component's accuracy. */
export const componentMetric = (attack: string, component: string): string => `final.components.${attack}.${component}`;

/** Timing fields of `results.json` (means over the rounds, milliseconds), in display order. */
export const TIMING_FIELDS = ['roundMs', 'trainMs', 'bvaMs', 'secaggMs', 'otherMs', 'evalMs', 'clientUpdatesPerSec', 'connectMs'] as const;

/** Metric name of the final accuracy under an attack. */
export const accuracyMetric = (attack: string): string => `final.accuracy.${attack}`;
/** Metric name of the backdoor success rate. */
export const ASR_METRIC = 'final.asr';
/** Metric name of the per-cell robust accuracy (minimum over attacks, see `robustAccuracy`). */
export const ROBUST_METRIC = 'derived.robustAccuracy';
/** Metric name of the mean bytes sent per cohort client per round. */
export const BYTES_METRIC = 'derived.bytesPerClientPerRound';

/**
 * Robust accuracy of a cell: the minimum over its attacks (every final accuracy but clean) of the final attacked
 * accuracy. The results hold accuracies per attack, not per example, so this is the minimum of aggregate
 * accuracies, an upper bound on §6's per-example worst case (equal when one attack dominates on every example).
 */
export function robustAccuracy(c: CellRecord): { value: number; attack: string; over: string[] } | undefined {
  const acc = c.results?.final.accuracy;
  if (acc === undefined) return undefined;
  const over = sortAttacks(Object.keys(acc).filter((a) => a !== 'clean'));
  let best: { value: number; attack: string } | undefined;
  for (const a of over) if (best === undefined || acc[a]! < best.value) best = { value: acc[a]!, attack: a };
  return best === undefined ? undefined : { ...best, over };
}

/**
 * Bytes the coordinator sent per cohort client per round, averaged over the recorded rounds (`bytesSent` in
 * rounds.jsonl counts the coordinator's outgoing payloads: weights, shared set and secure-aggregation requests).
 */
export function bytesPerClientPerRound(c: CellRecord): number | undefined {
  const per = c.rounds.filter((r) => r.cohort > 0).map((r) => r.bytesSent / r.cohort);
  if (per.length === 0) return undefined;
  let sum = 0;
  for (const v of per) sum += v;
  return sum / per.length;
}

/** Every numeric metric of a finished cell by name (absent names: not recorded by that run). */
export function cellMetrics(c: CellRecord): Map<string, number> {
  const out = new Map<string, number>();
  const r = c.results;
  if (r === undefined) return out;
  for (const [a, v] of Object.entries(r.final.accuracy)) out.set(accuracyMetric(a), v);
  const comps = (r.final as { components?: Record<string, Record<string, number>> }).components ?? {};
  for (const [a, byName] of Object.entries(comps)) for (const [n, v] of Object.entries(byName)) out.set(componentMetric(a, n), v);
  if (r.final.asr !== undefined) out.set(ASR_METRIC, r.final.asr);
  const robust = robustAccuracy(c);
  if (robust !== undefined) out.set(ROBUST_METRIC, robust.value);
  for (const f of TIMING_FIELDS) out.set(`timing.${f}`, r.timing[f]);
  const bytes = bytesPerClientPerRound(c);
  if (bytes !== undefined) out.set(BYTES_METRIC, bytes);
  out.set('completedRounds', r.completedRounds);
  out.set('wallMs', r.wallMs);
  out.set('rssMb', r.rssMb);
  return out;
}

/** Human labels of attacks, with their parameters (from STANDARD_ATTACKS). */
export function attackLabel(name: string): string {
  const s = STANDARD_ATTACKS[name];
  if (s === undefined) return name;
  return specLabel(name, s);
}

/** A label from an attack's specification (`name` tells the presets that share a kind apart). */
export function specLabel(name: string, s: AttackSpec): string {
  switch (s.kind) {
    case 'none':
      return 'clean';
    case 'fgsm':
      return 'FGSM';
    case 'apgd': {
      const loss = s.loss === 'ce' ? 'CE' : s.loss === 'dlr' ? 'DLR' : 'T';
      return `APGD-${loss} (${s.steps} it.${s.loss === 'dlr-targeted' ? ` × ${s.targets ?? 9} targets` : ''})`;
    }
    case 'square':
      return `Square (${s.queries} queries)`;
    case 'fab':
      return `FAB-T (${s.steps} it. × ${s.targets} targets)`;
    case 'autoattack':
      return `AutoAttack (${s.components.map((c) => c.name).join(' → ')})`;
    case 'transfer':
      return `transfer from ${s.surrogates.map(surrogateLetter).join(', ')}${s.surrogates.length > 1 ? ' (worst)' : ''}`;
    case 'pgd': {
      const restarts = s.restarts ?? 1;
      const base = `PGD-${s.steps}${restarts > 1 ? ` ×${restarts}` : ''}`;
      if (name === 'pgd-strong') return `strong ${base}`;
      return name.endsWith('madry') ? `${base} (α 2.5ε/steps)` : base;
    }
  }
}
