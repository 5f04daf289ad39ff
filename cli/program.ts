/**
 * The `rfl` program (cli/rfl.ts is its entry point): the one command of robust-fl. Subcommands run the quick start, simulations, a coordinator, an edge
 * client, benchmark matrices, reports, centralised training and the performance benchmarks; `--help` on each
 * lists its options with unit, range and default (cli/commands/). The npm scripts are aliases of these.
 *
 * Parsing is commander's; each subcommand's module is imported only when it runs, so `--help` and a mistyped
 * flag answer at once. Every failure is one line (cli/errors.ts); `--debug` adds the stack trace.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { checkValue, describeOption, type CommandSpec } from './spec.js';
import { errorLine, exitCodeOf, isHelpShown } from './errors.js';
import { UsageError } from '../shared/util/usage-error.js';
import { closest } from '../shared/util/closest.js';
import { start } from './commands/start.js';
import { simulate } from './commands/simulate.js';
import { coordinator } from './commands/coordinator.js';
import { client } from './commands/client.js';
import { benchmark } from './commands/benchmark.js';
import { report } from './commands/report.js';
import { train } from './commands/train.js';
import { benches } from './commands/bench.js';
import { clientHost } from './commands/client-host.js';

/** The top-level subcommands, in the order `rfl --help` lists them (`bench` groups `benches`). */
export const COMMANDS: readonly CommandSpec[] = [start, simulate, clientHost, coordinator, client, benchmark, report, train];
export { benches as BENCHES };

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The program: every subcommand with its options; parsing errors are thrown (CommanderError), not printed. */
export function buildProgram(): Command {
  const program = new Command('rfl')
    .description('Robust federated learning for TypeScript: secure aggregation, Decent_BVA, corrupted-client simulations, robustness reports.')
    .version(pkg.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .option('--debug', 'on an error, also print its stack trace')
    .option('--verbose', "say more: the compute backend's full selection with every rejected candidate's error")
    .exitOverride()
    // Each command's options are its own: what follows a subcommand's name is parsed by that subcommand, so a
    // subcommand may reuse a parent's option name (`benchmark --queue`, `benchmark worker --queue`).
    .enablePositionalOptions()
    .configureOutput({ outputError: () => undefined })
    .showSuggestionAfterError(true)
    .addHelpCommand(false)
    .addHelpText('after', '\nRun `rfl <command> --help` for its options. Start with `rfl start`; the README walks through the rest.');
  for (const spec of COMMANDS) addCommand(program, spec);
  const bench = program
    .command('bench')
    .summary('performance benchmarks: rfl bench <name> (compute, bva, secagg, …)')
    .description('Performance benchmarks. Each prints its figures, beside the peer measured in the same run where one is installed, and writes JSON.');
  for (const flag of ['--debug', '--verbose']) bench.addOption(new Option(flag).hideHelp());
  for (const spec of benches) addCommand(bench, spec);
  bench.argument('[name]', 'the benchmark').action((name: string | undefined) => {
    const names = benches.map((b) => b.name).join(', ');
    throw new UsageError(name === undefined ? `rfl bench needs a benchmark name: one of ${names} (rfl bench <name> --help)` : `unknown benchmark '${name}': one of ${names}`, ['name']);
  });
  return program;
}

/** Adds one documented subcommand whose action re-creates the argv its module parses, then runs the module. */
function addCommand(parent: Command, spec: CommandSpec): void {
  const cmd = parent
    .command(spec.name)
    .summary(spec.summary)
    .description(spec.description !== undefined ? `${spec.summary}.\n\n${spec.description}` : `${spec.summary}.`);
  if (spec.args !== undefined) cmd.argument(spec.args.syntax, spec.args.help);
  // A command without operands says what a stray word was probably meant as (checked in the action below),
  // instead of commander's "Expected 0 arguments".
  else cmd.allowExcessArguments(true);
  // The program's --debug and --verbose, accepted after any subcommand too (run() reads them from argv).
  for (const flag of ['--debug', '--verbose']) cmd.addOption(new Option(flag).hideHelp());
  const attributes: [string, string][] = [];
  for (const [name, doc] of Object.entries(spec.options)) {
    const option = new Option(doc.arg !== undefined ? `--${name} <${doc.arg}>` : `--${name}`, describeOption(doc));
    if (doc.arg !== undefined) {
      option.argParser((value: string, previous: unknown) => {
        const problem = checkValue(doc, value);
        if (problem !== undefined) throw new InvalidArgumentError(problem);
        return doc.repeatable === true ? [...((previous as string[] | undefined) ?? []), value] : value;
      });
    }
    cmd.addOption(option);
    attributes.push([name, option.attributeName()]);
  }
  if (spec.examples !== undefined) cmd.addHelpText('after', `\nExamples:\n${spec.examples.map((e) => `  ${e}`).join('\n')}`);
  // A subcommand may share an option name with its parent (`benchmark --queue`, `benchmark worker --queue`): the
  // parent's options then stop at the subcommand's name, and what follows is the subcommand's.
  if ((spec.subcommands ?? []).length > 0) cmd.enablePositionalOptions();
  for (const sub of spec.subcommands ?? []) addCommand(cmd, sub);
  cmd.action(async (...args: unknown[]) => {
    const command = args[args.length - 1] as Command;
    if (spec.args === undefined && command.args.length > 0) throw strayOperand(spec, commandPath(command), command.args[0]!);
    const opts = command.opts();
    const argv: string[] = [];
    for (const [name, attribute] of attributes) {
      const value = opts[attribute] as unknown;
      // A `--no-x` flag is stored by commander as x = false.
      if (name.startsWith('no-') ? value === false : value === true) argv.push(`--${name}`);
      else if (typeof value === 'string') argv.push(`--${name}`, value);
      else if (Array.isArray(value)) for (const v of value as string[]) argv.push(`--${name}`, v);
    }
    // Operands after `--` so one that starts with a dash is not taken for an option.
    if (command.args.length > 0) argv.push('--', ...command.args);
    const mod = await spec.load();
    await mod.main(argv);
  });
}

/** `coordinator enrol` for the enrol command: the names below the program's. */
function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c !== null && c.parent !== null; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The error for a word given to a command that takes options only, with what it was likely meant as. */
function strayOperand(spec: CommandSpec, name: string, word: string): UsageError {
  const subcommand = closest(
    word,
    (spec.subcommands ?? []).map((s) => s.name),
  );
  if (subcommand !== undefined) return new UsageError(`unknown command '${name} ${word}' (did you mean ${name} ${subcommand}?)`, ['args']);
  const fix =
    'set' in spec.options && /^[\w.]+=/.test(word)
      ? `did you mean --set ${word}?`
      : 'config' in spec.options && /\.(ya?ml|json)$/i.test(word)
        ? `did you mean --config ${word}?`
        : `rfl ${name} takes options only (rfl ${name} --help lists them)`;
  return new UsageError(`unexpected argument '${word}': ${fix}`, ['args']);
}

/** The subcommand `argv` names (`rfl benchmark worker …` → worker), or undefined. */
function specOf(argv: readonly string[]): CommandSpec | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const top = words[0] === 'bench' ? benches.find((b) => b.name === words[1]) : COMMANDS.find((c) => c.name === words[0]);
  return top?.subcommands?.find((s) => s.name === words[1]) ?? top;
}

/** A misspelt subcommand (`rfl coordinator enrl --ids a`), whose options the parent then refused: what it meant. */
function subcommandHint(argv: readonly string[]): string | undefined {
  const words = argv.filter((a) => !a.startsWith('-'));
  const parent = COMMANDS.find((c) => c.name === words[0]);
  const word = words[1];
  if (parent?.subcommands === undefined || word === undefined || argv[argv.indexOf(word) - 1]?.startsWith('--') === true) return undefined;
  if (parent.subcommands.some((s) => s.name === word)) return undefined;
  const sub = closest(
    word,
    parent.subcommands.map((s) => s.name),
  );
  return sub !== undefined ? `unknown command '${parent.name} ${word}' (did you mean ${parent.name} ${sub}?)` : undefined;
}

/**
 * For an unknown option of a command that takes scenario fields through --set (start, simulate, benchmark), the
 * --set form when the option names a scenario field: `rfl start --rounds 3` → `--set rounds=3`.
 */
async function setHint(err: CommanderError, argv: readonly string[]): Promise<string | undefined> {
  if (err.code !== 'commander.unknownOption' || /Did you mean/.test(err.message)) return undefined;
  const spec = specOf(argv);
  const flag = /unknown option '(--[^'=]+)/.exec(err.message)?.[1];
  if (spec === undefined || !('set' in spec.options) || flag === undefined) return undefined;
  const { scenarioFieldNames, SHORTHAND_FIELDS } = await import('../simulations/scenario.js');
  const name = flag.slice(2);
  const field = SHORTHAND_FIELDS[name] ?? name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  if (!scenarioFieldNames().includes(field)) return undefined;
  const at = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
  const inline = argv[at]!.includes('=') ? argv[at]!.slice(flag.length + 1) : undefined;
  const next = argv[at + 1];
  const value = inline ?? (next !== undefined && !next.startsWith('--') ? next : 'VALUE');
  const path = spec.name === 'benchmark' ? `base.${field}` : field;
  return `unknown option '${flag}': rfl ${spec.name} takes scenario fields through --set (did you mean --set ${path}=${value}?)`;
}

/** Runs rfl with `argv` (after node and the script); resolves to the exit code. */
export async function run(argv: readonly string[]): Promise<number> {
  const debug = argv.includes('--debug');
  if (argv.includes('--verbose')) process.env['RFL_VERBOSE'] = '1';
  try {
    await buildProgram().parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    // --help and --version exit 0; help shown for a missing subcommand (`rfl bench`) exits 2.
    if (isHelpShown(err)) return (err as CommanderError).exitCode === 0 ? 0 : 2;
    const hint = err instanceof CommanderError ? (subcommandHint(argv) ?? (await setHint(err, argv).catch(() => undefined))) : undefined;
    console.error(hint !== undefined ? `UsageError: ${hint}` : errorLine(err));
    if (debug && err instanceof Error && err.stack !== undefined) console.error(err.stack);
    return exitCodeOf(err);
  }
}
