/**
 * Every machine-readable error code of robust-fl, in one place (architecture.md, "Config and errors"). A code
 * travels in acknowledgements and refusals (`toWireError`), names a failure in logs and round metrics, and lets a
 * caller branch without parsing a message; the message names the field and the bad value.
 *
 * The typed errors of each layer take their codes from here: `ProtocolError` (shared/protocol/errors.ts, the
 * wire), `SecAggError` and its subclasses (shared/secagg/errors.ts), `DataError` (shared/data/dataset.ts),
 * `ConfigError` (shared/federated/errors.ts), `CheckpointError` (server/checkpoint-error.ts), `ListenError`
 * (server/http-listen.ts), `IdentityError` (client/identity-file.ts), `ConnectError` (client/connect-error.ts) and
 * `rfl client`'s `RefusedError` and `CoordinatorGoneError` (client/cli.ts). A failure with a code but no class of its
 * own (a client refusing a request, a refusal relayed from the coordinator) is a `CodedError`. Only catalogued codes
 * go on the wire (`toWireError`, `WireError.code`).
 */

/** Refusals of the wire protocol: the coordinator sends them to a client, a client acknowledges with them. */
export const PROTOCOL_ERROR_CODES = [
  /** The peer speaks another protocol version. */
  'version',
  /** The token, the hello or the identity proof was refused. */
  'auth',
  /** The client id or key is not on the enrolment list (server/enrolment.ts). */
  'not-enrolled',
  /** Open enrolment: the token has bound its maximum number of identities. */
  'sybil-cap',
  /** The coordinator holds its maximum number of connections. */
  'busy',
  /** Another connection already holds this identity. */
  'duplicate-identity',
  /** A payload that fails validation as a whole (unreadable, or refused by the peer). */
  'bad-payload',
  /** A field of the wrong type or size. */
  'bad-shape',
  /** A field of the right shape holding a value out of range. */
  'bad-value',
  /** A message over the size limit. */
  'too-large',
  /** A request out of the stage order (replay, skipped stage, other round or sum). */
  'stage-order',
  /** A request for a round this client is not part of. */
  'not-in-round',
  /** No answer within the stage's timeout. */
  'timeout',
  /** The peer disconnected, or was not connected. */
  'dropped',
] as const;

/** Failures of secure aggregation (docs/spec/secure-aggregation.md §4, §6). */
export const SECAGG_ERROR_CODES = [
  /** A peer or the coordinator broke the protocol: bad signature, low-order key, wrong session id, bad bytes. */
  'protocol',
  /** See PROTOCOL_ERROR_CODES: the stage machines raise it too. */
  'stage-order',
  /** A survivor set fell below the threshold t: the sum or round aborts and the model stays unchanged. */
  'secagg-aborted',
  /** See CONFIG_ERROR_CODES. */
  'config',
  /** A Shamir reconstruction found no verified subset of shares. */
  'reconstruction',
  /** Share-box complaints were judged; the key agreement starts again without the guilty. */
  'dispute',
] as const;

/** Datasets: absent files, malformed content (and `config` for bad options). */
export const DATA_ERROR_CODES = ['dataset-missing', 'dataset-format', 'config'] as const;

/** A configuration that can never work, refused before any client connects. */
export const CONFIG_ERROR_CODES = ['config'] as const;

/** Refusals a client session raises itself (client/session.ts), answered to the coordinator. */
export const CLIENT_ERROR_CODES = [
  /** The client's input already reached unmask in a secure sum: it is never masked or sent in plaintext again. */
  'remask-refused',
  /** A request or a training result for a round that is already over. */
  'stale-round',
] as const;

/** Failures of running a coordinator or a client: its files, its address, its peer's address. */
export const RUN_ERROR_CODES = [
  /** A checkpoint that cannot be trusted (unreadable, corrupt, tampered with) or that this run cannot resume. */
  'checkpoint',
  /** A client's identity key file that cannot be read or holds no valid key. */
  'identity',
  /** The coordinator cannot listen on its address (port in use, privileged, address not on this machine). */
  'listen',
  /** A client cannot reach its coordinator, or the coordinator did not come back within the reconnection attempts. */
  'unreachable',
] as const;

/**
 * Anything thrown without a catalogued code, as it goes on the wire (`toWireError`): a programming error, or a
 * code from outside the catalogue (Node's `ENOENT`, a library's own), which never reaches the peer as such.
 */
export const INTERNAL_ERROR_CODE = 'internal';

/** Every error code. */
export type ErrorCode =
  | (typeof PROTOCOL_ERROR_CODES)[number]
  | (typeof SECAGG_ERROR_CODES)[number]
  | (typeof DATA_ERROR_CODES)[number]
  | (typeof CONFIG_ERROR_CODES)[number]
  | (typeof CLIENT_ERROR_CODES)[number]
  | (typeof RUN_ERROR_CODES)[number]
  | typeof INTERNAL_ERROR_CODE;

/** Codes of wire-protocol refusals. */
export type ProtocolErrorCode = (typeof PROTOCOL_ERROR_CODES)[number];
/** Codes of secure-aggregation failures. */
export type SecAggErrorCode = (typeof SECAGG_ERROR_CODES)[number];
/** Codes of dataset failures. */
export type DataErrorCode = (typeof DATA_ERROR_CODES)[number];
/** Codes of client-side refusals. */
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];
/** Codes of a coordinator's or a client's own failures (files, addresses). */
export type RunErrorCode = (typeof RUN_ERROR_CODES)[number];

const ALL_CODES: ReadonlySet<string> = new Set<ErrorCode>([
  ...PROTOCOL_ERROR_CODES,
  ...SECAGG_ERROR_CODES,
  ...DATA_ERROR_CODES,
  ...CONFIG_ERROR_CODES,
  ...CLIENT_ERROR_CODES,
  ...RUN_ERROR_CODES,
  INTERNAL_ERROR_CODE,
]);

/** Whether `code` is in the catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && ALL_CODES.has(code);
}

/**
 * A code that came from the peer (a refusal's `code` field), or `fallback` when it is absent or not in the
 * catalogue: a conforming coordinator only sends catalogued codes.
 */
export function peerErrorCode(code: unknown, fallback: ErrorCode): ErrorCode {
  return isErrorCode(code) ? code : fallback;
}

/**
 * An error with a catalogued code. Its `name` stays `Error` unless given, so the one-line reports of `rfl`
 * (cli/errors.ts) read as they did when such errors were plain `Error`s with a `code` attached.
 */
export class CodedError<C extends ErrorCode = ErrorCode> extends Error {
  /** Machine-readable reason. */
  readonly code: C;

  /** Creates an error with `code`; `name` defaults to Error's. */
  constructor(code: C, message: string, options?: { cause?: unknown; name?: string }) {
    super(message, options);
    this.code = code;
    if (options?.name !== undefined) this.name = options.name;
  }
}

/** The message of anything thrown: an Error's message, anything else as a string (for log lines and refusals). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The code of a failed system call (Node's `ENOENT`, `EACCES`, …) that `err` carries, if any: for messages, not for the wire. */
export function systemCodeOf(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}
