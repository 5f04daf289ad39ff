/**
 * One line for a failed connection attempt, naming the address and the cause. socket.io-client reports a
 * transport failure as "websocket error" and keeps the real cause (ECONNREFUSED, ENOTFOUND, …) in
 * `description.error`; a coordinator that refused the handshake (bad token, identity) sends its own message.
 */

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

/** The one-line description of socket.io-client's `connect_error` for `url`. */
export function describeConnectError(url: string, err: Error): string {
  const e = err as Error & { type?: unknown; description?: unknown };
  if (e.type !== 'TransportError') return `the coordinator at ${url} refused the connection: ${err.message}`;
  const inner = innerError(e.description);
  const code = typeof inner?.code === 'string' ? inner.code : undefined;
  const cause = code !== undefined && CAUSES[code] !== undefined ? `${CAUSES[code]} [${code}]` : (inner?.message ?? err.message);
  return `cannot connect to ${url}: ${cause}`;
}

/** The underlying error of a transport failure: ws's ErrorEvent keeps it as `.error`, xhr polling as the description itself. */
function innerError(d: unknown): { code?: unknown; message?: string } | undefined {
  if (d === null || typeof d !== 'object') return undefined;
  const ev = d as { error?: unknown; code?: unknown; message?: unknown };
  if (ev.error !== null && typeof ev.error === 'object') return ev.error as { code?: unknown; message?: string };
  return { code: ev.code, ...(typeof ev.message === 'string' ? { message: ev.message } : {}) };
}
