/**
 * Errors of the wire protocol, with a machine-readable `code` that is also sent back to the peer, so every
 * refusal names what was wrong (architecture.md, "Config and errors").
 */

import { CodedError, INTERNAL_ERROR_CODE, isErrorCode, messageOf, type ErrorCode, type ProtocolErrorCode } from '../errors/catalogue.js';

/** Why a message was refused: the codes are listed, with their meaning, in shared/errors/catalogue.ts. */
export type { ProtocolErrorCode };

/** A refused message or connection. */
export class ProtocolError extends CodedError<ProtocolErrorCode> {
  /** Creates an error; the message names the field and the bad value. */
  constructor(code: ProtocolErrorCode, message: string) {
    super(code, message);
    this.name = 'ProtocolError';
  }
}

/** The error object that travels in an acknowledgement: a catalogued code (shared/errors/catalogue.ts) and a message. */
export interface WireError {
  code: ErrorCode;
  message: string;
}

/**
 * Turns any thrown value into a WireError. A typed error (`CodedError`) keeps its code, as does any error whose
 * `code` is catalogued; any other code (Node's `ENOENT`, a library's own) is not the peer's business and goes out
 * as `internal`.
 */
export function toWireError(err: unknown): WireError {
  // A CodedError's code is catalogued by its type; this also keeps a catalogued code on an error from elsewhere.
  const code = err instanceof Error && 'code' in err && isErrorCode(err.code) ? err.code : INTERNAL_ERROR_CODE;
  return { code, message: messageOf(err) };
}
