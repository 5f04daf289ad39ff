/**
 * Errors of the wire protocol, with a machine-readable `code` that is also sent back to the peer, so every
 * refusal names what was wrong (architecture.md, "Config and errors").
 */

import { CodedError, INTERNAL_ERROR_CODE, type ProtocolErrorCode } from '../errors/catalogue.js';

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
  return { code: INTERNAL_ERROR_CODE, message: err instanceof Error ? err.message : String(err) };
}
