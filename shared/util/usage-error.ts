/**
 * A mistake in how a command was called: a missing or malformed option, a value out of its range. The `rfl`
 * command prints it as one `UsageError: message` line and exits with code 2, like an unknown flag; every other
 * error exits with code 1. `fields` names the options at fault (without the dashes).
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly fields: readonly string[] = [],
  ) {
    super(message);
  }
}
