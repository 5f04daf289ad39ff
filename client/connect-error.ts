/**
 * One line for a failed connection attempt, naming the address and the cause. socket.io-client reports a
 * transport failure as "websocket error" and keeps the real cause (ECONNREFUSED, ENOTFOUND, …) in
 * `description.error`; a coordinator that refused the handshake (bad token, identity) sends its own message.
 */
import { CodedError } from '../shared/errors/catalogue.js';

/** Plain words for the errno codes a client meets when it cannot reach a coordinator. */
const CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused: nothing listens there (is the coordinator running, on this host and port?)',
  ENOTFOUND: 'host not found (check the host name)',
  EAI_AGAIN: 'host name lookup failed (check the host name and DNS)',
  ETIMEDOUT: 'timed out (a firewall, or the wrong address)',
  EHOSTUNREACH: 'host unreachable (check the address and the network)',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset by the other side (is it a coordinator? http, not https?)',
  EPROTO: 'protocol error (https against an http coordinator?)',
};

/** Whether socket.io-client's `connect_error` is a transport failure (nothing reached), not a refusal by the coordinator. */
export function isTransportError(err: Error): boolean {
  return 'type' in err && err.type === 'TransportError';
}

/** The one-line description of socket.io-client's `connect_error` for `url`. */
export function describeConnectError(url: string, err: Error): string {
  if (!isTransportError(err)) return `the coordinator at ${url} refused the connection: ${err.message}`;
  const inner = innerError('description' in err ? err.description : undefined);
  const code = typeof inner?.code === 'string' ? inner.code : undefined;
  const cause = code !== undefined && CAUSES[code] !== undefined ? `${CAUSES[code]} [${code}]` : (inner?.message ?? err.message);
  return `cannot connect to ${url}: ${cause}`;
}

/** The underlying error of a transport failure: ws's ErrorEvent keeps it as `.error`, xhr polling as the description itself. */
function innerError(d: unknown): { code?: unknown; message?: string } | undefined {
  if (d === null || typeof d !== 'object') return undefined;
  const source: object = 'error' in d && d.error !== null && typeof d.error === 'object' ? d.error : d;
  const code = 'code' in source ? source.code : undefined;
  const message = 'message' in source && typeof source.message === 'string' ? source.message : undefined;
  return { code, ...(message !== undefined ? { message } : {}) };
}

/**
 * A client could not reach its coordinator (nothing listens at the address, the host is unknown, the network is
 * down) and will not try again: the message is `describeConnectError`'s line, naming the address and the cause.
 */
export class ConnectError extends CodedError<'unreachable'> {
  override readonly name = 'ConnectError';

  /** `err` is socket.io-client's `connect_error` for `url`. */
  constructor(
    readonly url: string,
    err: Error,
  ) {
    super('unreachable', describeConnectError(url, err));
  }
}
