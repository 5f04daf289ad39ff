/**
 * Everything a report shows, computed once from the loaded runs: the groups over seeds, the per-round curves,
 * the per-defense costs, the worst-case tables, the paired comparisons and the protocol. The Markdown, the HTML, the charts and the CSV
 * files all read this one model, which is what keeps them consistent with each other.
 */
import { curvePoints, defenseCosts, groupCells, type CurvePoint, type DefenseCost, type Group } from './aggregate.js';
import type { LoadedRuns } from './load.js';
import { attacksOf, componentsOf } from './metrics.js';
import { pairedTables, type PairedTable } from './paired.js';
import { protocolOf, type Protocol } from './protocol.js';
import { worstCaseTables, type ExtremeTable } from './tables.js';

/** The computed content of a report. */
export interface ReportModel {
  loaded: LoadedRuns;
  /** Attacks with a final accuracy in some finished cell, in display order. */
  attacks: string[];
  /** Suite components ([attack, component]) some finished cell recorded. */
  components: [string, string][];
  /** Defenses and threats that have at least one cell, in matrix order. */
  defenses: string[];
  threats: string[];
  /** Corruption levels present, ascending. */
  levels: number[];
  groups: Group[];
  curves: CurvePoint[];
  costs: DefenseCost[];
  tables: ExtremeTable[];
  /** Paired comparisons against each baseline present (fedavg-ds, fed-bva). */
  paired: PairedTable[];
  protocol: Protocol;
}

/** Computes the model. */
export function buildModel(loaded: LoadedRuns): ReportModel {
  const groups = groupCells(loaded);
  const defenses = loaded.order.defenses.filter((d) => loaded.cells.some((c) => c.defense === d));
  const threats = loaded.order.threats.filter((t) => loaded.cells.some((c) => c.threat === t));
  return {
    loaded,
    attacks: attacksOf(loaded.cells),
    components: componentsOf(loaded.cells),
    defenses,
    threats,
    levels: [...new Set(loaded.cells.map((c) => c.corruption))].sort((a, b) => a - b),
    groups,
    curves: curvePoints(groups),
    costs: defenseCosts(groups, defenses),
    tables: worstCaseTables(groups, defenses),
    paired: pairedTables(groups, defenses),
    protocol: protocolOf(loaded),
  };
}
