/**
 * The secure-aggregation error catalogue (docs/spec/secure-aggregation.md §4, §6; docs/spec/architecture.md,
 * "Config and errors").
 *
 * Every error carries a machine-readable `code` and a message that names the offending field and value, so the
 * client can reply with a typed error and the coordinator can log which check failed without parsing text.
 */

import { CodedError, type SecAggErrorCode } from '../errors/catalogue.js';

/** Machine-readable kinds of secure-aggregation failure, listed with their meaning in shared/errors/catalogue.ts. */
export type { SecAggErrorCode };

/** Common base: `instanceof SecAggError` catches every secure-aggregation failure. */
export class SecAggError extends CodedError<SecAggErrorCode> {
  /** Creates an error of the given kind. */
  constructor(code: SecAggErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'SecAggError';
  }
}

/** A peer or the coordinator broke the protocol: bad signature, low-order key, wrong session id, malformed bytes. */
export class SecAggProtocolError extends SecAggError {
  /** The message field that failed its check (e.g. 'sPk', 'sessionId'), when one is to blame. */
  readonly field: string | undefined;

  /** Creates a protocol error; `field` names the offending field when there is one. */
  constructor(message: string, options?: { field?: string; cause?: unknown }) {
    super('protocol', message, options);
    this.name = 'SecAggProtocolError';
    this.field = options?.field;
  }
}

/** A request arrived out of the shared transition table's order (replay, skipped stage, other round/sum/attempt). */
export class SecAggStageOrderError extends SecAggError {
  /** Creates a stage-order error. */
  constructor(message: string, options?: { cause?: unknown }) {
    super('stage-order', message, options);
    this.name = 'SecAggStageOrderError';
  }
}

/** Fields of a threshold abort: where it happened and how far below the threshold it fell. */
export interface SecAggAbortInfo {
  /** The stage whose survivor set fell short (e.g. 'setup', 'unmask'). */
  stage: string;
  /** The sum being computed ('model', 'bva/<step>/p1', …), or '' for round-wide stages. */
  phase: string;
  /** The sum's attempt, from 0; 0 for round-wide stages. */
  attempt: number;
  /** How many were needed (the threshold t). */
  needed: number;
  /** How many there were. */
  got: number;
}

/** A survivor set fell below the threshold t: the sum (or round) aborts cleanly and the model stays unchanged. */
export class SecAggAbortedError extends SecAggError implements SecAggAbortInfo {
  /** See `SecAggAbortInfo.stage`. */
  readonly stage: string;
  /** See `SecAggAbortInfo.phase`. */
  readonly phase: string;
  /** See `SecAggAbortInfo.attempt`. */
  readonly attempt: number;
  /** See `SecAggAbortInfo.needed`. */
  readonly needed: number;
  /** See `SecAggAbortInfo.got`. */
  readonly got: number;

  /** Creates an abort; the default message states stage, phase, attempt, needed and got. */
  constructor(info: SecAggAbortInfo, message?: string, options?: { cause?: unknown }) {
    super('secagg-aborted', message ?? `secure aggregation aborted at stage '${info.stage}' (phase '${info.phase}', attempt ${info.attempt}): ` + `needed ${info.needed}, got ${info.got}`, options);
    this.name = 'SecAggAbortedError';
    this.stage = info.stage;
    this.phase = info.phase;
    this.attempt = info.attempt;
    this.needed = info.needed;
    this.got = info.got;
  }
}

/** A configuration or argument that can never work (headroom broken, t out of range, k + 1 > 255, …). */
export class SecAggConfigError extends SecAggError {
  /** The option or argument at fault, e.g. 'reconstructionThreshold' or 'segments[model].R'. */
  readonly field: string;

  /** Creates a configuration error naming `field`; the message should quote the bad value. */
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('config', message, options);
    this.name = 'SecAggConfigError';
    this.field = field;
  }
}

/** Why a Shamir reconstruction failed. */
export type ReconstructionFailure = 'too-few-shares' | 'no-verified-subset';

/**
 * A Shamir reconstruction failed: fewer than t usable shares (refused before the library runs) or no tried
 * t-subset produced a secret that verifies. The caller turns it into a `SecAggAbortedError` with its stage.
 */
export class SecAggReconstructionError extends SecAggError {
  /** Which of the two failures happened. */
  readonly reason: ReconstructionFailure;
  /** The threshold t. */
  readonly needed: number;
  /** Usable shares (well-formed, distinct x-coordinates) that were available. */
  readonly got: number;
  /** How many t-subsets were combined and verified before giving up (0 for 'too-few-shares'). */
  readonly subsetsTried: number;

  /** Creates a reconstruction error. */
  constructor(reason: ReconstructionFailure, info: { needed: number; got: number; subsetsTried: number }, message: string) {
    super('reconstruction', message);
    this.name = 'SecAggReconstructionError';
    this.reason = reason;
    this.needed = info.needed;
    this.got = info.got;
    this.subsetsTried = info.subsetsTried;
  }
}

/**
 * Complaints about share boxes at `checkBoxes` (docs/spec/secure-aggregation.md §6.1): each was judged with the
 * accuser's revealed box key (disputes.ts), the key agreement is abandoned before anything was masked under it, and
 * the coordinator starts the round's secure aggregation again without the clients `excluded`: the senders of
 * garbage and the false accusers, each by its verdict.
 */
export class SecAggDisputeError extends SecAggError {
  constructor(
    /** The guilty clients, sorted. */
    readonly excluded: string[],
    /** Every verdict of the key agreement. */
    readonly verdicts: { accuser: string; accused: string; guilty: string; reason: string }[],
  ) {
    super(
      'dispute',
      `secure aggregation: ${verdicts.length} share-box complaint(s) judged; leaving out ${excluded.join(', ')} (${verdicts.map((v) => `${v.guilty}: ${v.reason}`).join('; ')}) and starting again with fresh keys`,
    );
    this.name = 'SecAggDisputeError';
  }
}
