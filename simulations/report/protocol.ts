/**
 * The protocol a report states (threats-and-evaluation.md §6–§7: "every results table states ε, α, steps,
 * restarts, start and range"), read from the results files: each field lists every distinct value the cells
 * used, with the cells that used it, so a matrix whose cells disagree shows it instead of hiding it.
 *
 * Attack parameters come from the results files, which record each attack as the run used it (its ε follows the
 * run's `evalEps`); only for results written before they did are they taken from STANDARD_ATTACKS of the build
 * that makes the report, and the report says so.
 */
import { STANDARD_ATTACKS, type AttackSpec } from '../../shared/attacks/robust-accuracy.js';
import type { CellRecord, LoadedRuns } from './load.js';
import { percent } from './format.js';
import { sortAttacks, specLabel } from './metrics.js';

/** One distinct value of a field and where it was read. */
export interface FactValue {
  value: string;
  /** Cell ids, or `matrix.json (name)` for values read from a matrix file. */
  from: string[];
}

/** A protocol field with its distinct values (one value when every cell agrees). */
export interface Fact {
  field: string;
  values: FactValue[];
}

/** One attack of the evaluation. */
export interface AttackRow {
  name: string;
  label: string;
  kind: string;
  eps: number | undefined;
  alpha: number | undefined;
  steps: number | undefined;
  restarts: number | undefined;
  randomStart: boolean | undefined;
  /** False when this build's STANDARD_ATTACKS does not know the name (parameters then unknown). */
  known: boolean;
  /** Where the runs used it: at evaluation rounds, after the last round, or both. */
  usedAt: string;
  /** Parameters beyond ε, α, steps, restarts and start (APGD's loss and schedule, Square's queries, suite components, surrogates). */
  other: string | undefined;
  /** Test images the attack ran on, as the results recorded them (distinct values comma-separated). */
  images: string | undefined;
}

/** A named defense or threat with its settings as facts. */
export interface Entity {
  name: string;
  facts: Fact[];
  /** Cells (finished or not) that belong to it. */
  cells: string[];
}

/** Everything the protocol section shows. */
export interface Protocol {
  federated: Fact[];
  attacks: AttackRow[];
  defenses: Entity[];
  threats: Entity[];
  seeds: number[];
  software: Fact[];
  /** First and last `date` of the results files, ISO strings. */
  dates: { first: string; last: string } | undefined;
}

/** Collects the distinct values of `get` over items, keeping first-seen order. */
function fact<T>(field: string, items: readonly T[], get: (item: T) => string | undefined, from: (item: T) => string): Fact {
  const values: FactValue[] = [];
  for (const it of items) {
    const v = get(it);
    if (v === undefined) continue;
    const found = values.find((x) => x.value === v);
    if (found !== undefined) found.from.push(from(it));
    else values.push({ value: v, from: [from(it)] });
  }
  return { field, values };
}

/** A value as a short string: numbers as JS prints them, arrays comma-separated, objects as compact JSON. */
export function show(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map((x) => show(x) ?? '').join(', ');
  if (typeof v === 'object' && v !== null)
    return JSON.stringify(v)
      .replace(/"([A-Za-z_][A-Za-z0-9_]*)":/g, '$1: ')
      .replace(/,(?=\S)/g, ', ');
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects were handled above: what is left is a primitive or a function
  return String(v);
}

/** A partition spec as words. */
function showPartition(p: unknown): string | undefined {
  if (typeof p !== 'object' || p === null) return show(p);
  const s = p as { kind?: string; alpha?: number; shardsPerClient?: number };
  if (s.kind === 'iid') return 'IID';
  if (s.kind === 'dirichlet') return `Dirichlet α = ${s.alpha ?? 'default'}`;
  if (s.kind === 'shards') return `shards (${s.shardsPerClient ?? 'default'} per client)`;
  return show(p);
}

/** An aggregation config as words: the rule and its parameters. */
function showAggregation(a: unknown): string | undefined {
  if (typeof a !== 'object' || a === null) return show(a);
  const { rule, ...params } = a as { rule?: string } & Record<string, unknown>;
  const ps = Object.entries(params).map(([k, v]) => `${k} = ${show(v)}`);
  return ps.length === 0 ? String(rule) : `${String(rule)} (${ps.join(', ')})`;
}

/** The image counts the finished cells ran `name` on (`final.evaluatedBy`, else `final.evaluated`). */
function imagesOf(finished: readonly CellRecord[], name: string): string | undefined {
  const counts = new Set<number>();
  for (const c of finished) {
    if (c.results!.final.accuracy[name] === undefined) continue;
    const by = (c.results!.final as { evaluatedBy?: Record<string, number> }).evaluatedBy?.[name];
    counts.add(by ?? c.results!.final.evaluated);
  }
  return counts.size === 0 ? undefined : [...counts].sort((a, b) => a - b).join(', ');
}

/** Steps and restarts of the parameter-free attacks (AutoAttack: none of its own). */
function stepsOf(s: AttackSpec): { steps?: number; restarts?: number; randomStart?: boolean } {
  if (s.kind === 'apgd') return { steps: s.steps, restarts: s.restarts ?? 1, randomStart: s.randomStart ?? true };
  if (s.kind === 'square') return { steps: s.queries, restarts: 1, randomStart: true };
  if (s.kind === 'fab') return { steps: s.steps, restarts: 1, randomStart: false };
  return {};
}

/** The parameters of an attack that the common columns do not hold, in words. */
export function describeSpec(s: AttackSpec): string | undefined {
  switch (s.kind) {
    case 'apgd':
      return `loss ${s.loss}${s.loss === 'dlr-targeted' ? `, ${s.targets ?? 9} target classes` : ''}, ρ = ${s.rho ?? 0.75}, momentum ${s.momentum ?? 0.75}, initial step ${s.initialStep ?? 2}·ε, checkpoints p_0 = 0, p_1 = 0.22`;
    case 'square':
      return `${s.queries} queries (steps column), p_init = ${s.pInit}, margin loss`;
    case 'fab':
      return `${s.targets} target classes, α_max = ${s.alphaMax}, η = ${s.eta}, β = ${s.beta}; counts a minimal example within ε`;
    case 'autoattack':
      return `runs in order on still-robust examples: ${s.components.map((c) => `${c.name} [${describeSpec(c.spec) ?? c.spec.kind}]`).join('; ')}`;
    case 'transfer':
      return `PGD on surrogates ${s.surrogates.join(', ')} (${s.epochs} epochs, seed ${s.surrogateSeed}, trained on the second half of the test set)`;
    default:
      return undefined;
  }
}

/** The protocol of every cell that has a scenario (finished or not: an unfinished cell still ran a setup). */
export function protocolOf(loaded: LoadedRuns): Protocol {
  const withScenario = loaded.cells.filter((c) => c.scenario !== undefined);
  const finished = loaded.cells.filter((c) => c.results !== undefined);
  const id = (c: CellRecord): string => c.id;
  const fed = (c: CellRecord): Record<string, unknown> => (c.scenario!.federated ?? {}) as unknown as Record<string, unknown>;
  const f = (field: string, get: (c: CellRecord) => unknown): Fact => fact(field, withScenario, (c) => show(get(c)), id);

  const federated: Fact[] = [
    f('dataset', (c) => c.scenario!.dataset),
    f('model', (c) => fed(c)['model']),
    f('clients N', (c) => fed(c)['numClients']),
    f('fraction per round', (c) => fed(c)['fraction']),
    f('cohort m = max(⌊fraction·N⌋, 1)', (c) => {
      const n = fed(c)['numClients'];
      const fr = fed(c)['fraction'];
      return typeof n === 'number' && typeof fr === 'number' ? Math.max(Math.floor(fr * n), 1) : undefined;
    }),
    f('rounds', (c) => fed(c)['rounds']),
    f('local epochs', (c) => fed(c)['localEpochs']),
    f('batch size', (c) => fed(c)['batchSize']),
    f('learning rate', (c) => fed(c)['lr']),
    f('momentum', (c) => fed(c)['momentum']),
    fact('partition', withScenario, (c) => showPartition(fed(c)['partition']), id),
    f('shared-set size', (c) => fed(c)['sharedSetSize']),
    f('shared-loss weight β', (c) => fed(c)['sharedLossWeight']),
    f('method ε', (c) => fed(c)['eps']),
    f('Decent_BVA options', (c) => fed(c)['bva']),
    // Results written before profiles existed ran the default profile's rules.
    f('profile (docs/spec/decent-bva.md, "Profiles")', (c) => fed(c)['profile'] ?? 'default'),
    f('local adversarial training (PGD / TRADES)', (c) => fed(c)['adversarialTraining']),
    f('evaluation ε', (c) => fed(c)['evalEps'] ?? 0.3),
    f('aggregation weights', (c) => fed(c)['weighting']),
    f('evaluate every (rounds)', (c) => fed(c)['evalEvery']),
    f('attacks at evaluation rounds', (c) => fed(c)['evalAttacks']),
    f('attacks after the last round', (c) => fed(c)['finalAttacks']),
    fact('test examples evaluated', finished, (c) => show(c.results!.final.evaluated), id),
    fact('completed rounds', finished, (c) => `${c.results!.completedRounds} of ${c.results!.rounds}`, id),
    fact('virtual clients × worker threads', finished, (c) => `${c.results!.clients} × ${c.results!.workers}`, id),
  ].filter((x) => x.values.length > 0);

  const evalAt = new Set(withScenario.flatMap((c) => (fed(c)['evalAttacks'] as string[] | undefined) ?? []));
  const finalAt = new Set([...withScenario.flatMap((c) => (fed(c)['finalAttacks'] as string[] | undefined) ?? []), ...finished.flatMap((c) => Object.keys(c.results!.final.accuracy))]);
  const attacks: AttackRow[] = sortAttacks([...evalAt, ...finalAt]).map((name) => {
    // The recorded parameters; several distinct ones (cells at different ε) are shown as unknown rather than one.
    const recorded = [...new Set(finished.flatMap((c) => (c.results!.attacks?.[name] !== undefined ? [JSON.stringify(c.results!.attacks[name])] : [])))];
    const s = recorded.length === 1 ? (JSON.parse(recorded[0]!) as AttackSpec) : recorded.length > 1 ? undefined : STANDARD_ATTACKS[name];
    const usedAt = [evalAt.has(name) ? 'evaluation rounds' : '', finalAt.has(name) ? 'final' : ''].filter(Boolean).join(', ');
    const images = imagesOf(finished, name);
    const base = { name, usedAt, images, other: undefined };
    if (s === undefined) return { ...base, label: name, kind: 'unknown', eps: undefined, alpha: undefined, steps: undefined, restarts: undefined, randomStart: undefined, known: false };
    const label = specLabel(name, s);
    const none = { eps: undefined, alpha: undefined, steps: undefined, restarts: undefined, randomStart: undefined };
    switch (s.kind) {
      case 'none':
        return { ...base, ...none, label, kind: 'none', known: true };
      case 'fgsm':
        return { ...base, ...none, label, kind: 'fgsm', eps: s.eps, steps: 1, restarts: 1, randomStart: false, known: true };
      case 'pgd':
        return { ...base, label, kind: 'pgd', eps: s.eps, alpha: s.alpha, steps: s.steps, restarts: s.restarts ?? 1, randomStart: s.randomStart ?? true, known: true };
      case 'apgd':
      case 'fab':
      case 'square':
      case 'autoattack':
        return { ...base, ...none, label, kind: s.kind, eps: s.eps, ...stepsOf(s), other: describeSpec(s), known: true };
      case 'transfer':
        return { ...base, label, kind: 'transfer', eps: s.eps, alpha: s.alpha, steps: s.steps, restarts: s.restarts ?? 1, randomStart: s.randomStart ?? true, other: describeSpec(s), known: true };
    }
  });

  const entities = (names: readonly string[], of: (c: CellRecord) => string, facts: (cells: CellRecord[]) => Fact[]): Entity[] =>
    names
      .map((name) => {
        const cells = loaded.cells.filter((c) => of(c) === name);
        return { name, facts: facts(cells.filter((c) => c.scenario !== undefined)).filter((x) => x.values.length > 0), cells: cells.map(id) };
      })
      .filter((e) => e.cells.length > 0);
  const defenses = entities(
    loaded.order.defenses,
    (c) => c.defense,
    (cells) => [
      fact('method', cells, (c) => show(fed(c)['method']), id),
      fact('mode', cells, (c) => (c.scenario!.secure ? (c.scenario!.aggregation?.rule === 'grouped' ? 'grouped secure aggregation' : 'secure aggregation') : 'plaintext'), id),
      fact('aggregation', cells, (c) => showAggregation(c.scenario!.aggregation), id),
    ],
  );
  const threats = entities(
    loaded.order.threats,
    (c) => c.threat,
    (cells) => [
      fact('behaviour', cells, (c) => show(c.scenario!.corrupted?.behavior) ?? 'none (no corrupted clients)', id),
      fact('selection', cells, (c) => show(c.scenario!.corrupted?.selection), id),
      fact('poisons BV statistics', cells, (c) => show(c.scenario!.corrupted?.poisonBva), id),
    ],
  );
  // Levels come from every cell's coordinates (a cell that never started has no scenario but has its level).
  for (const t of threats) {
    const levels = [...new Set(loaded.cells.filter((c) => c.threat === t.name).map((c) => c.corruption))].sort((a, b) => a - b);
    t.facts.push({ field: 'corruption levels f', values: [{ value: levels.map(percent).join(', '), from: t.cells }] });
  }

  const seeds = [...new Set(loaded.cells.map((c) => c.seed))].sort((a, b) => a - b);

  const matrices = loaded.sources.filter((s) => s.matrix !== undefined);
  const mfrom = (s: (typeof matrices)[number]): string => `matrix.json (${s.matrix!.name})`;
  const both = (field: string, fromMatrix: (s: (typeof matrices)[number]) => unknown, fromCell: (c: CellRecord) => unknown): Fact => {
    const a = fact(field, matrices, (s) => show(fromMatrix(s)), mfrom);
    const b = fact(field, finished, (c) => show(fromCell(c)), id);
    for (const v of b.values) {
      const found = a.values.find((x) => x.value === v.value);
      if (found !== undefined) found.from.push(...v.from);
      else a.values.push(v);
    }
    return a;
  };
  const software: Fact[] = [
    both(
      'robust-fl (package.json version)',
      (s) => s.matrix!.software?.robustFl,
      () => undefined,
    ),
    both(
      'Node.js',
      (s) => s.matrix!.software?.node,
      (c) => c.results!.machine?.node,
    ),
    both(
      'TensorFlow.js',
      (s) => s.matrix!.software?.tfjs,
      (c) => c.results!.machine?.tfjs,
    ),
    // The training's compute backend: its float sums round differently (native, wasm, cpu), so a seeded figure is
    // exact only on the backend that made it. Results written before it was recorded say so.
    fact(
      'compute backend (simulation threads)',
      finished,
      (c) => {
        const m = c.results!.machine;
        return m?.backend === undefined ? 'not recorded' : m.backendDetail !== undefined ? `${m.backend} (${m.backendDetail})` : m.backend;
      },
      id,
    ),
    both(
      'CPU',
      (s) => s.matrix!.machine?.cpu,
      (c) => c.results!.machine?.cpu,
    ),
    both(
      'cores',
      (s) => s.matrix!.machine?.cores,
      (c) => c.results!.machine?.cores,
    ),
  ];

  const dates = finished
    .map((c) => c.results!.date)
    .filter((d): d is string => d !== undefined)
    .sort();
  return { federated, attacks, defenses, threats, seeds, software, dates: dates.length > 0 ? { first: dates[0]!, last: dates[dates.length - 1]! } : undefined };
}
