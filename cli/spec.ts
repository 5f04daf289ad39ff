/**
 * What `rfl` knows about a subcommand without loading it: its options, each with its unit, range and default,
 * and a loader for the module that runs it. Loading lazily keeps `rfl --help` and a mistyped flag fast: neither
 * imports TensorFlow.js.
 *
 * The module keeps its own option table (node:util parseArgs form, `OPTIONS`) and its own checks; rfl checks
 * ranges first so a bad value gets a one-line error before anything starts. test/cli.test.ts holds the two
 * tables equal (names, kinds and defaults), so help cannot drift from what the command accepts.
 */

/** One option of a subcommand. */
export interface OptionDoc {
  /** What the option is, as a short phrase (the unit and range are added from the fields below). */
  help: string;
  /** Placeholder of the value (`N`, `FILE`, …); absent for a flag without a value. */
  arg?: string;
  /** How the value is checked: an integer or number in [min, max], an http(s) URL, or any text (the default). */
  kind?: 'int' | 'number' | 'url' | 'text';
  min?: number;
  max?: number;
  /** Unit of a number (`s`, `images`, …). */
  unit?: string;
  /** The accepted values, when they are a closed list. */
  choices?: readonly string[];
  /** The default as the command applies it, verbatim (the module's parseArgs default, if it has one). */
  default?: string;
  /** The default where it is not a constant ("the scenario's", "one per core"). */
  defaultNote?: string;
  /** May be given several times (each value is kept). */
  repeatable?: boolean;
  /** The command cannot run without it (its module refuses to start, naming the option); help says "required". */
  required?: boolean;
}

/** A subcommand: its help and the module that runs it. */
export interface CommandSpec {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Paragraphs after the usage line of its --help. */
  description?: string;
  /** Positional arguments, in commander syntax (`<dir...>`). */
  args?: { syntax: string; help: string };
  options: Readonly<Record<string, OptionDoc>>;
  /** Example invocations shown at the end of its --help. */
  examples?: readonly string[];
  /** Subcommands of this command (`rfl coordinator enrol`). */
  subcommands?: readonly CommandSpec[];
  /** The module: its parseArgs table and its entry point (argv after the subcommand's name). */
  load: () => Promise<{ OPTIONS?: object; main(argv: readonly string[]): Promise<void> }>;
}

/** The help text of one option: its phrase, then kind, range, unit, choices and default in parentheses. */
export function describeOption(o: OptionDoc): string {
  const facts: string[] = [];
  if (o.required === true) facts.push('required');
  if (o.kind === 'int' || o.kind === 'number') {
    const what = o.kind === 'int' ? 'integer' : 'number';
    const lo = o.min !== undefined ? String(o.min) : undefined;
    const hi = o.max !== undefined ? String(o.max) : undefined;
    facts.push(lo !== undefined && hi !== undefined ? `${what} in [${lo}, ${hi}]` : lo !== undefined ? `${what} ≥ ${lo}` : hi !== undefined ? `${what} ≤ ${hi}` : what);
  }
  if (o.unit !== undefined) facts.push(`unit: ${o.unit}`);
  if (o.choices !== undefined) facts.push(`one of ${o.choices.join(', ')}`);
  if (o.repeatable === true) facts.push('repeatable');
  if (o.default !== undefined) facts.push(`default: ${o.default === '' ? '""' : o.default}`);
  else if (o.defaultNote !== undefined) facts.push(`default: ${o.defaultNote}`);
  return facts.length > 0 ? `${o.help} (${facts.join('; ')})` : o.help;
}

/** Checks a value against its option's kind, range and choices; returns the problem, or undefined when fine. */
export function checkValue(o: OptionDoc, value: string): string | undefined {
  if (o.kind === 'int' || o.kind === 'number') {
    const v = Number(value);
    const ok = value.trim() !== '' && Number.isFinite(v) && (o.kind === 'number' || Number.isInteger(v)) && (o.min === undefined || v >= o.min) && (o.max === undefined || v <= o.max);
    if (!ok) {
      const what = o.kind === 'int' ? 'an integer' : 'a number';
      const range = o.min !== undefined && o.max !== undefined ? ` in [${o.min}, ${o.max}]` : o.min !== undefined ? ` ≥ ${o.min}` : o.max !== undefined ? ` ≤ ${o.max}` : '';
      return `expected ${what}${range}${o.unit !== undefined ? ` (${o.unit})` : ''}`;
    }
  }
  if (o.kind === 'url' && !isHttpUrl(value)) return 'not a URL: expected http://host:port or https://host:port, e.g. http://localhost:8080';
  if (o.choices !== undefined && !o.choices.includes(value)) return `expected one of ${o.choices.join(', ')}`;
  return undefined;
}

/** Whether `value` is an absolute http or https URL with a host (what socket.io clients connect to). */
export function isHttpUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
}

/** The compute backends' names (shared/compute/backend.ts BACKEND_NAMES; the test holds them equal). */
export const BACKENDS = ['tfjs-node-gpu', 'webgpu', 'tfjs-node', 'native', 'wasm', 'cpu'] as const;

/** The --backend option every compute command shares. */
export const BACKEND_OPTION: OptionDoc = {
  help: 'compute backend',
  arg: 'NAME',
  choices: BACKENDS,
  defaultNote: 'the first of tfjs-node-gpu, tfjs-node, native, wasm, cpu that loads (webgpu only when named)',
};
