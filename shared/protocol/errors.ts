/**
 * Errors of the wire protocol, with a machine-readable `code` that is also sent back to the peer, so every
 * refusal names what was wrong (architecture.md, "Config and errors").
 */

/** Why a message was refused. */
export type ProtocolErrorCode =
  | 'version'
  | 'auth'
  /** The client id or key is not on the enrolment list (server/enrolment.ts). */
  | 'not-enrolled'
  /** Open enrolment: the token has bound its maximum number of identities. */
  | 'sybil-cap'
  /** The coordinator holds its maximum number of connections. */
  | 'busy'
  | 'duplicate-identity'
  | 'bad-payload'
  | 'bad-shape'
  | 'bad-value'
  | 'too-large'
  | 'stage-order'
  | 'not-in-round'
  | 'timeout'
  | 'dropped';

/** A refused message or connection. */
export class ProtocolError extends Error {
  /** Machine-readable reason, sent to the peer. */
  readonly code: ProtocolErrorCode;

  /** Creates an error; the message names the field and the bad value. */
  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

/** The error object that travels in an acknowledgement. */
export interface WireError {
  code: string;
  message: string;
}

/** Turns any thrown value into a WireError (typed errors keep their code). */
export function toWireError(err: unknown): WireError {
  if (err instanceof Error && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return { code: (err as { code: string }).code, message: err.message };
  }
  return { code: 'internal', message: err instanceof Error ? err.message : String(err) };
}
