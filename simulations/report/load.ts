/**
 * Reads run directories into typed cells: every number a report shows comes from here, never from anything
 * typed by hand. A RUN_DIR is a benchmark matrix directory (`matrix.json` and `cells/<id>/`), a single simulation
 * run directory, or a folder that holds either kind one level down.
 *
 * Unfinished work is data, not an error: a cell without a readable `results.json` is kept with the reason it is
 * missing, and a matrix cell that never started (no directory) is listed from the matrix's own configuration.
 * A damaged line in `rounds.jsonl` (typically the last one of a run that is still writing) is skipped with a
 * warning, so a report can be built while a benchmark is running.
 *
 * Paths: every directory is held absolute for reading, and written only relative: a source directory (and a
 * file named in a warning) relative to the report's folder, a cell's directory relative to its source (the
 * matrix directory: `cells/<id>`), so no report names a path of the machine that built it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { configOrder, expectedCells, type CellCoords } from './expected.js';
import {
  CellFileSchema,
  describeIssue,
  MatrixFileSchema,
  ResultsFileSchema,
  RoundLineSchema,
  ScenarioFileSchema,
  type MatrixFile,
  type ResultsFile,
  type RoundRecord,
  type ScenarioFile,
} from './files.js';

/** One cell: its coordinates and whatever its run directory holds. */
export interface CellRecord extends CellCoords {
  /** The cell's run directory (absolute, for reading only); undefined for a matrix cell that never started. */
  dir: string | undefined;
  /** The cell's run directory relative to its source (`cells/<id>`, `.` for a run source), as reports write it. */
  relDir: string | undefined;
  /** The matrix or run directory it belongs to (a SourceInfo's `dir`). */
  source: string;
  /** The matrix's name, for a matrix cell. */
  matrix: string | undefined;
  /** Where the coordinates came from: `cell.json`, the matrix configuration, or derived from `scenario.json`. */
  coordsFrom: 'cell.json' | 'matrix.json' | 'scenario.json';
  scenario: ScenarioFile | undefined;
  /** Every readable line of `rounds.jsonl`, in file order. */
  rounds: RoundRecord[];
  /** The final results; undefined when the cell is missing. */
  results: ResultsFile | undefined;
  /** Why the cell has no results (unfinished, never started, unreadable); undefined when finished. */
  missing: string | undefined;
}

/** One RUN_DIR (or a run or matrix found one level below it). */
export interface SourceInfo {
  /** Absolute directory (for reading only; reports write `label`). */
  dir: string;
  /** The directory relative to the folder the paths are shown from (the report's folder), `/`-separated. */
  label: string;
  kind: 'matrix' | 'run';
  /** The parsed `matrix.json` of a matrix directory (undefined if absent or unreadable). */
  matrix: MatrixFile | undefined;
}

/** Everything the report is built from. */
export interface LoadedRuns {
  sources: SourceInfo[];
  cells: CellRecord[];
  /** Defense and threat names in matrix order (first matrix first); names not listed there sort after. */
  order: { defenses: string[]; threats: string[] };
  /** Problems that did not stop the report (skipped lines, unreadable files, renamed duplicate ids). */
  warnings: string[];
}

/** Options of `loadRuns`. */
export interface LoadOptions {
  /** The folder written paths are relative to (the report's output folder); default: the working directory. */
  relativeTo?: string;
}

/** `to` relative to `from`, with `/` separators on every platform; `.` for the same directory. */
export function relativePath(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join('/') || '.';
}

/** Turns a path into the form warnings write (relative to the report's folder). */
type Show = (p: string) => string;

const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
const isMatrixDir = (p: string): boolean => existsSync(path.join(p, 'matrix.json')) || isDir(path.join(p, 'cells'));
const RUN_FILES = ['scenario.json', 'results.json', 'rounds.jsonl', 'cell.json'];
const isRunDir = (p: string): boolean => RUN_FILES.some((f) => existsSync(path.join(p, f)));

/** Reads JSON, or returns the reason it cannot. */
function readJson(file: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(readFileSync(file, 'utf8')) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message.split('\n')[0]! };
  }
}

/** The files of one run directory. */
function readRunFiles(dir: string, warn: (w: string) => void, show: Show): Pick<CellRecord, 'scenario' | 'rounds' | 'results' | 'missing'> {
  let scenario: ScenarioFile | undefined;
  const sFile = path.join(dir, 'scenario.json');
  if (existsSync(sFile)) {
    const j = readJson(sFile);
    const parsed = j.ok ? ScenarioFileSchema.safeParse(j.value) : undefined;
    if (parsed?.success) scenario = parsed.data as unknown as ScenarioFile;
    else warn(`${show(sFile)}: ignored (${j.ok ? describeIssue(parsed!.error) : j.reason})`);
  }

  const rounds: RoundRecord[] = [];
  const rFile = path.join(dir, 'rounds.jsonl');
  if (existsSync(rFile)) {
    const lines = readFileSync(rFile, 'utf8').split('\n');
    lines.forEach((line, k) => {
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        // The engine appends one line per round, so a run being written can end in a partial line.
        warn(`${show(rFile)}:${k + 1}: skipped an unparseable line${k >= lines.length - 2 ? ' (the run may still be writing)' : ''}`);
        return;
      }
      const parsed = RoundLineSchema.safeParse(value);
      if (parsed.success) rounds.push(parsed.data as unknown as RoundRecord);
      else warn(`${show(rFile)}:${k + 1}: skipped (${describeIssue(parsed.error)})`);
    });
  }

  const resFile = path.join(dir, 'results.json');
  const planned = scenario?.federated?.rounds;
  const progress = `${rounds.length}${planned !== undefined ? ` of ${planned}` : ''} rounds recorded`;
  if (!existsSync(resFile)) return { scenario, rounds, results: undefined, missing: `unfinished: no results.json (${progress})` };
  const j = readJson(resFile);
  if (!j.ok) return { scenario, rounds, results: undefined, missing: `results.json unreadable: ${j.reason}` };
  const parsed = ResultsFileSchema.safeParse(j.value);
  if (!parsed.success) return { scenario, rounds, results: undefined, missing: `results.json invalid: ${describeIssue(parsed.error)}` };
  return { scenario, rounds, results: parsed.data, missing: undefined };
}

/**
 * Coordinates of a run without `cell.json` (a plain `rfl simulate` run directory), from its scenario: the defense is
 * `method · rule · secure|plaintext`, the threat the corrupted behaviour (or none), the id the folder's name.
 */
function deriveCoords(dir: string, s: ScenarioFile): CellCoords {
  const kind = s.corrupted?.behavior.kind;
  return {
    id: path.basename(dir),
    defense: `${s.federated.method} · ${s.aggregation.rule} · ${s.secure ? 'secure' : 'plaintext'}`,
    threat: kind ?? 'none',
    corruption: s.corrupted?.fraction ?? 0,
    seed: s.federated.seed,
    behavior: kind ?? null,
  };
}

/** `cell.json` if present and valid. */
function readCellFile(dir: string, warn: (w: string) => void, show: Show): CellCoords | undefined {
  const file = path.join(dir, 'cell.json');
  if (!existsSync(file)) return undefined;
  const j = readJson(file);
  const parsed = j.ok ? CellFileSchema.safeParse(j.value) : undefined;
  if (parsed?.success) {
    const { id, defense, threat, corruption, seed, behavior, profile, heterogeneity } = parsed.data;
    // A non-default profile is another defense (`fed-bva@reference`): without the suffix its seeds would be
    // averaged, and paired, together with the default profile's. The benchmark already writes the suffixed name;
    // this only guards a cell.json that gives the profile on its own.
    const suffix = profile !== undefined && profile !== 'default' ? `@${profile}` : '';
    const named = suffix !== '' && !defense.endsWith(suffix) ? defense + suffix : defense;
    return { id, defense: named, threat, corruption, seed, behavior, ...(profile === 'reference' ? { profile } : {}), ...(heterogeneity !== undefined ? { heterogeneity } : {}) };
  }
  warn(`${show(file)}: ignored (${j.ok ? describeIssue(parsed!.error) : j.reason})`);
  return undefined;
}

/** One run directory as a cell, or undefined (with a warning) when nothing identifies it. */
function loadRun(dir: string, source: string, matrix: string | undefined, expected: Map<string, CellCoords>, warn: (w: string) => void, show: Show): CellRecord | undefined {
  const files = readRunFiles(dir, warn, show);
  const fromCell = readCellFile(dir, warn, show);
  // The benchmark writes cell.json only after a cell finishes, so a running cell is matched by its directory name.
  const fromMatrix = expected.get(path.basename(dir));
  const coords = fromCell ?? fromMatrix ?? (files.scenario !== undefined ? deriveCoords(dir, files.scenario) : undefined);
  if (coords === undefined) {
    warn(`${show(dir)}: skipped: neither cell.json nor a readable scenario.json says which cell it is`);
    return undefined;
  }
  const coordsFrom = fromCell !== undefined ? 'cell.json' : fromMatrix !== undefined ? 'matrix.json' : 'scenario.json';
  return { ...coords, dir, relDir: relativePath(source, dir), source, matrix, coordsFrom, ...files };
}

/** A matrix directory: its cells in matrix order, then any extra cell directories by name. */
function loadMatrix(dir: string, warn: (w: string) => void, show: Show): { info: SourceInfo; cells: CellRecord[] } {
  let matrix: MatrixFile | undefined;
  const mFile = path.join(dir, 'matrix.json');
  if (existsSync(mFile)) {
    const j = readJson(mFile);
    const parsed = j.ok ? MatrixFileSchema.safeParse(j.value) : undefined;
    if (parsed?.success) matrix = parsed.data;
    else warn(`${show(mFile)}: ignored (${j.ok ? describeIssue(parsed!.error) : j.reason})`);
  } else warn(`${show(dir)}: no matrix.json; cells that never started cannot be listed`);
  const name = matrix?.name ?? path.basename(dir);
  const expectedList = expectedCells(matrix?.config);
  const expected = new Map(expectedList.map((c) => [c.id, c]));
  const cellsDir = path.join(dir, 'cells');
  const dirs = isDir(cellsDir)
    ? readdirSync(cellsDir)
        .filter((n) => isDir(path.join(cellsDir, n)))
        .sort()
    : [];
  const found = new Map<string, CellRecord>();
  for (const n of dirs) {
    const cell = loadRun(path.join(cellsDir, n), dir, name, expected, warn, show);
    if (cell !== undefined) found.set(n, cell);
  }
  const cells: CellRecord[] = [];
  for (const e of expectedList) {
    const cell = found.get(e.id);
    if (cell !== undefined) {
      cells.push(cell);
      found.delete(e.id);
    } else {
      cells.push({
        ...e,
        dir: undefined,
        relDir: undefined,
        source: dir,
        matrix: name,
        coordsFrom: 'matrix.json',
        scenario: undefined,
        rounds: [],
        results: undefined,
        missing: 'not started: no cell directory',
      });
    }
  }
  cells.push(...found.values());
  return { info: { dir, label: show(dir), kind: 'matrix', matrix }, cells };
}

/** Loads every RUN_DIR; throws only for a directory that does not exist or holds no run at all. */
export function loadRuns(dirs: readonly string[], opts: LoadOptions = {}): LoadedRuns {
  const base = path.resolve(opts.relativeTo ?? process.cwd());
  const show: Show = (p) => relativePath(base, p);
  const warnings: string[] = [];
  const warn = (w: string): void => void warnings.push(w);
  const sources: SourceInfo[] = [];
  const cells: CellRecord[] = [];
  const seenDirs = new Set<string>();
  const add = (dir: string): boolean => {
    // The same directory given twice (or also found inside a folder given) would count its seeds twice.
    if (seenDirs.has(dir)) {
      warn(`${show(dir)}: given more than once; read once`);
      return true;
    }
    seenDirs.add(dir);
    if (isMatrixDir(dir)) {
      const m = loadMatrix(dir, warn, show);
      sources.push(m.info);
      cells.push(...m.cells);
      return true;
    }
    if (isRunDir(dir)) {
      const cell = loadRun(dir, dir, undefined, new Map(), warn, show);
      sources.push({ dir, label: show(dir), kind: 'run', matrix: undefined });
      if (cell !== undefined) cells.push(cell);
      return true;
    }
    return false;
  };
  for (const given of dirs) {
    // Absolute for reading; reports write it relative (`label`, `relDir`), never as this machine names it.
    const dir = path.resolve(given);
    if (!isDir(dir)) throw new Error(`${given}: no such directory`);
    if (add(dir)) continue;
    // A folder of runs (e.g. runs/): take the runs and matrices one level down.
    const subs = readdirSync(dir)
      .sort()
      .map((n) => path.join(dir, n))
      .filter(isDir);
    if (!subs.map((s) => add(s)).some(Boolean)) throw new Error(`${given}: neither a run directory (scenario.json, results.json) nor a matrix directory (matrix.json, cells/), nor a folder of them`);
  }

  // Ids name rows in every table and CSV, so they must be unique across sources.
  const seen = new Set<string>();
  for (const c of cells) {
    if (!seen.has(c.id)) {
      seen.add(c.id);
      continue;
    }
    const base = `${path.basename(c.source)}/${c.id}`;
    let id = base;
    for (let k = 2; seen.has(id); k++) id = `${base}#${k}`;
    warnings.push(`duplicate cell id ${c.id} (${show(c.dir ?? c.source)}) renamed ${id}`);
    c.id = id;
    seen.add(id);
  }

  const defenses: string[] = [];
  const threats: string[] = [];
  const push = (list: string[], name: string): void => void (list.includes(name) ? undefined : list.push(name));
  for (const s of sources) {
    const o = configOrder(s.matrix?.config);
    o.defenses.forEach((d) => push(defenses, d));
    o.threats.forEach((t) => push(threats, t));
  }
  for (const c of cells) {
    push(defenses, c.defense);
    push(threats, c.threat);
  }
  return { sources, cells, order: { defenses, threats }, warnings };
}
