/**
 * The error of a checkpoint that cannot be trusted or does not fit the run resuming it. Its own module so that
 * the run store (run-store.ts), the rule-state section's codec (rule-state-codec.ts) and the resume checks
 * (resume-check.ts) can all throw it without importing one another.
 */

import { CodedError } from '../shared/errors/catalogue.js';

/** A checkpoint that cannot be trusted (unreadable, corrupt, tampered with, non-finite) or that this run cannot resume. */
export class CheckpointError extends CodedError<'checkpoint'> {
  override readonly name = 'CheckpointError';
  readonly fields = ['resume'];
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super('checkpoint', `${file}: ${problem}`);
  }
}
