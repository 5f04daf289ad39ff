import { CodedError } from '../errors/catalogue.js';

/**
 * The configuration error every validator throws (architecture.md, "Config and errors"): it names the field (or
 * fields) at fault and the bad value, before any client connects.
 */
export class ConfigError extends CodedError<'config'> {
  /** The offending field paths, e.g. `['aggregation.rule', 'secure']`. */
  readonly fields: string[];

  constructor(fields: string | string[], message: string) {
    super('config', message);
    this.name = 'ConfigError';
    this.fields = Array.isArray(fields) ? fields : [fields];
  }
}
