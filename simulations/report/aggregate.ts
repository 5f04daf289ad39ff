/**
 * Aggregation over seeds: a *group* is one defense × threat × corruption level, and every number shown for it
 * is a `Summary` over its finished cells (one per seed). Unfinished cells never enter a mean: a half-trained
 * seed would pull it down, so they are listed as missing instead.
 */
import type { CellRecord, LoadedRuns } from './load.js';
import { cellMetrics } from './metrics.js';
import { defined, groupBy, summarize, type Summary } from './stats.js';

/** One defense × threat × corruption level, over its seeds. */
export interface Group {
  /** `defense / threat / f`, the group's name in summary.csv. */
  key: string;
  defense: string;
  threat: string;
  corruption: number;
  behavior: string | null;
  /** Finished cells (one per seed), in load order. */
  cells: CellRecord[];
  /** Cells of the group without results. */
  missing: CellRecord[];
  /** Summary per metric name (see metrics.ts) over the finished cells that recorded it. */
  metrics: Map<string, Summary>;
  /** For each metric, the ids of the cells its summary is over. */
  sources: Map<string, string[]>;
}

/** The name of a group in tables and CSV files. */
export function groupKey(defense: string, threat: string, corruption: number): string {
  return `${defense} / ${threat} / f=${corruption}`;
}

/** Orders by the given name lists (matrix order), unknown names last in first-seen order. */
function rankIn(list: readonly string[], name: string): number {
  const k = list.indexOf(name);
  return k < 0 ? list.length : k;
}

/** Groups every cell; groups ordered by defense, threat (matrix order) and corruption level. */
export function groupCells(loaded: LoadedRuns): Group[] {
  const { defenses, threats } = loaded.order;
  const byKey = groupBy(loaded.cells, (c) => groupKey(c.defense, c.threat, c.corruption));
  const groups: Group[] = [];
  for (const [key, cells] of byKey) {
    const finished = cells.filter((c) => c.results !== undefined);
    const perCell = finished.map((c) => ({ id: c.id, m: cellMetrics(c) }));
    const names = new Set(perCell.flatMap((p) => [...p.m.keys()]));
    const metrics = new Map<string, Summary>();
    const sources = new Map<string, string[]>();
    for (const name of names) {
      const s = summarize(defined(perCell, (p) => p.m.get(name)));
      if (s === undefined) continue;
      metrics.set(name, s);
      sources.set(
        name,
        perCell.filter((p) => p.m.has(name)).map((p) => p.id),
      );
    }
    const first = cells[0]!;
    groups.push({
      key,
      defense: first.defense,
      threat: first.threat,
      corruption: first.corruption,
      behavior: cells.find((c) => c.behavior !== null)?.behavior ?? null,
      cells: finished,
      missing: cells.filter((c) => c.results === undefined),
      metrics,
      sources,
    });
  }
  return groups.sort((a, b) => rankIn(defenses, a.defense) - rankIn(defenses, b.defense) || rankIn(threats, a.threat) - rankIn(threats, b.threat) || a.corruption - b.corruption);
}

/** One point of a per-round curve: a metric of `eval` at one round, over a group's seeds. */
export interface CurvePoint {
  group: Group;
  round: number;
  /** The `eval` key (an attack name, or `asr`). */
  metric: string;
  summary: Summary;
  /** Ids of the cells that evaluated at this round. */
  cells: string[];
}

/** Every evaluated round of every group, for every `eval` key. */
export function curvePoints(groups: readonly Group[]): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const g of groups) {
    const rows = g.cells.flatMap((c) => c.rounds.filter((r) => r.eval !== undefined).map((r) => ({ id: c.id, round: r.round, eval: r.eval! })));
    const rounds = [...new Set(rows.map((r) => r.round))].sort((a, b) => a - b);
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r.eval)))];
    for (const round of rounds) {
      const at = rows.filter((r) => r.round === round);
      for (const metric of keys) {
        const has = at.filter((r) => r.eval[metric] !== undefined);
        const summary = summarize(has.map((r) => r.eval[metric]!));
        if (summary !== undefined) out.push({ group: g, round, metric, summary, cells: has.map((r) => r.id) });
      }
    }
  }
  return out;
}

/** Cost of one defense over every finished cell it ran (all threats, levels and seeds). */
export interface DefenseCost {
  defense: string;
  /** Ids of the finished cells the summaries are over. */
  cells: string[];
  /** Summary per metric: the `timing.*` fields and `derived.bytesPerClientPerRound`. */
  metrics: Map<string, Summary>;
}

/**
 * Per-defense cost. Pooled over threats on purpose: cost depends on the defense's protocol, not on what the
 * corrupted clients send (crash and straggler threats do change it; their cells are in cost.csv's sources).
 */
export function defenseCosts(groups: readonly Group[], defenses: readonly string[]): DefenseCost[] {
  const out: DefenseCost[] = [];
  for (const d of defenses) {
    const cells = groups.filter((g) => g.defense === d).flatMap((g) => g.cells);
    if (cells.length === 0) continue;
    const perCell = cells.map((c) => cellMetrics(c));
    const metrics = new Map<string, Summary>();
    for (const name of new Set(perCell.flatMap((m) => [...m.keys()]))) {
      if (!name.startsWith('timing.') && name !== 'derived.bytesPerClientPerRound') continue;
      const s = summarize(defined(perCell, (m) => m.get(name)));
      if (s !== undefined) metrics.set(name, s);
    }
    out.push({ defense: d, cells: cells.map((c) => c.id), metrics });
  }
  return out;
}
