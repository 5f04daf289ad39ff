/**
 * How `rfl` reports a failure: one `Name: message` line on stderr, no stack trace (`--debug` adds it), and an
 * exit code that says whose mistake it was: 2 for how the command was called (an unknown flag, a value out of
 * range, a configuration field a validator refused), 1 for anything that went wrong while running.
 */
import { CommanderError } from 'commander';

/** Exit code of a usage or configuration mistake. */
export const EXIT_USAGE = 2;
/** Exit code of a failure while running. */
export const EXIT_FAILURE = 1;

/** Whether `err` is commander having shown help or the version (already printed; nothing more to say). */
export function isHelpShown(err: unknown): boolean {
  return err instanceof CommanderError && /^commander\.(help|helpDisplayed|version)$/.test(err.code);
}

/** The exit code for `err`. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
  const e = err as { name?: unknown; code?: unknown; fields?: unknown };
  if (e !== null && typeof e === 'object') {
    if (e.name === 'UsageError' || e.name === 'ConfigError' || Array.isArray(e.fields)) return EXIT_USAGE;
    if (e.name === 'DataError' && e.code === 'config') return EXIT_USAGE;
    // node:util parseArgs' own complaints (the commands re-parse what rfl already checked; kept for direct use).
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS_')) return EXIT_USAGE;
  }
  return EXIT_FAILURE;
}

/** The one line that describes `err`: its name, then its message with line breaks folded. */
export function errorLine(err: unknown): string {
  if (err instanceof CommanderError) {
    // "error: unknown option '--roundz'\n(Did you mean --rounds?)" → "UsageError: unknown option '--roundz' (did you mean --rounds?)"
    let text = err.message.replace(/^error: /, '').replace(/\n\(Did you mean (.*)\?\)/, ' (did you mean $1?)');
    // "option '--rounds <N>' argument '0' is invalid. expected …" → "--rounds 0: expected …"
    const bad = /^option '(--[\w-]+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(text);
    if (bad !== null) text = `${bad[1]} ${bad[2]}: ${bad[3]}`;
    return `UsageError: ${fold(text)}`;
  }
  if (err instanceof Error) {
    const name = err.name === 'Error' || err.name === '' ? 'Error' : err.name;
    const code = (err as { code?: unknown }).code;
    const tag = name === 'DataError' && typeof code === 'string' ? `DataError[${code}]` : name;
    return `${tag}: ${fold(err.message)}${causeOf(err)}`;
  }
  return `Error: ${fold(String(err))}`;
}

/** A cause worth naming (an errno code such as ENOENT), appended as "(cause: …)". */
function causeOf(err: Error): string {
  const cause = (err as { cause?: unknown }).cause as { code?: unknown; message?: unknown } | undefined;
  if (cause === undefined || cause === null || typeof cause !== 'object') return '';
  const text = typeof cause.message === 'string' ? cause.message : typeof cause.code === 'string' ? cause.code : '';
  return text !== '' && !err.message.includes(text) ? ` (cause: ${fold(text)})` : '';
}

/** Folds a multi-line message into one line. */
function fold(s: string): string {
  return s
    .trim()
    .split(/\s*\n\s*/)
    .join('; ');
}
