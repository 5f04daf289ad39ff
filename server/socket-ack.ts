/**
 * Acknowledged requests to one socket that fail on timeout or as soon as the client disconnects. socket.io's own
 * `timeout().emitWithAck` would wait out the full timeout for an acknowledgement that can no longer come,
 * stalling the round, and its timer would keep the process alive after the coordinator closes; these clear their
 * timer either way.
 */
import type { Socket } from 'socket.io';
import type { ClientToServerEvents, ServerToClientEvents, SocketData } from '../shared/protocol/events.js';
import { ProtocolError } from '../shared/protocol/errors.js';
import type { Packed } from '../shared/protocol/wire.js';

/** A client connection as the coordinator types it. */
export type ServerSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/**
 * Sends `emit` (which must pass its callback as the acknowledgement) and resolves to the acknowledgement, or
 * rejects with `ProtocolError('timeout' | 'dropped')` worded by `what`.
 */
function acknowledged<R>(socket: ServerSocket, timeoutMs: number, what: { dropped: string; timeout: string }, emit: (ack: (res: R) => void) => void): Promise<R> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off('disconnect', onDisconnect);
    };
    const onDisconnect = (): void => {
      cleanup();
      reject(new ProtocolError('dropped', what.dropped));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new ProtocolError('timeout', what.timeout));
    }, timeoutMs);
    socket.once('disconnect', onDisconnect);
    emit((res) => {
      cleanup();
      resolve(res);
    });
  });
}

/** A packed request (`round:train` or `secagg`) and its packed acknowledgement. */
export function ackOrDisconnect(socket: ServerSocket, event: 'secagg' | 'round:train', packed: Packed, timeoutMs: number): Promise<Packed> {
  const id = socket.data.clientId;
  if (!socket.connected) return Promise.reject(new ProtocolError('dropped', `${id} is not connected`));
  return acknowledged<Packed>(socket, timeoutMs, { dropped: `${id} disconnected`, timeout: `${id} did not answer ${event} within ${timeoutMs} ms` }, (ack) => {
    if (event === 'secagg') socket.emit('secagg', packed, ack);
    else socket.emit('round:train', packed, ack);
  });
}

/** The identity challenge and the client's signed answer. */
export function ackOrTimeout(socket: ServerSocket, payload: { nonce: string }, timeoutMs: number): Promise<{ signature: string }> {
  const id = socket.data.clientId;
  return acknowledged<{ signature: string }>(socket, timeoutMs, { dropped: `${id} disconnected before proving its identity`, timeout: `${id} did not prove its identity within ${timeoutMs} ms` }, (ack) =>
    socket.emit('auth:challenge', payload, ack),
  );
}
