/**
 * Acknowledged requests to one socket that fail on timeout or as soon as the client disconnects. socket.io's own
 * `timeout().emitWithAck` would wait out the full timeout for an acknowledgement that can no longer come,
 * stalling the round, and its timer would keep the process alive after the coordinator closes; these clear their
 * timer either way.
 */
import type { Socket } from 'socket.io';
import type { Ack, ClientToServerEvents, ServerToClientEvents, SocketData, TrainReply, TrainRequest } from '../shared/protocol/events.js';
import { ProtocolError } from '../shared/protocol/errors.js';
import type { Packed } from '../shared/protocol/wire.js';
import type { Stage, StageReply, StageRequest } from '../shared/secagg/messages.js';
import type { Deadlines } from '../shared/engine/clock.js';

/** A client connection as the coordinator types it. */
export type ServerSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

/** A request's timeout: `ms` on the injected deadlines (shared/engine/clock.ts). */
export interface Deadline {
  ms: number;
  deadlines: Deadlines;
}

/**
 * Sends `emit` (which must pass its callback as the acknowledgement) and resolves to the acknowledgement, or
 * rejects with `ProtocolError('timeout' | 'dropped')` worded by `what`.
 */
function acknowledged<R>(socket: ServerSocket, deadline: Deadline, what: { dropped: string; timeout: string }, emit: (ack: (res: R) => void) => void): Promise<R> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      cancel();
      socket.off('disconnect', onDisconnect);
    };
    const onDisconnect = (): void => {
      cleanup();
      reject(new ProtocolError('dropped', what.dropped));
    };
    const cancel = deadline.deadlines.arm(deadline.ms, () => {
      cleanup();
      reject(new ProtocolError('timeout', what.timeout));
    });
    socket.once('disconnect', onDisconnect);
    emit((res) => {
      cleanup();
      resolve(res);
    });
  });
}

/** Emits stage S's request on its own event; one entry per stage, so a stage without an event fails the build. */
type StageEmitter<S extends Stage> = (socket: ServerSocket, req: Packed<StageRequest<S>>, ack: (res: Packed<Ack<StageReply<S>>>) => void) => void;
const EMIT_STAGE: { [S in Stage]: StageEmitter<S> } = {
  setup: (s, req, ack) => s.emit('secagg:setup', req, ack),
  shareKeys: (s, req, ack) => s.emit('secagg:shareKeys', req, ack),
  checkBoxes: (s, req, ack) => s.emit('secagg:checkBoxes', req, ack),
  collectMasked: (s, req, ack) => s.emit('secagg:collectMasked', req, ack),
  consistency: (s, req, ack) => s.emit('secagg:consistency', req, ack),
  unmask: (s, req, ack) => s.emit('secagg:unmask', req, ack),
  reshare: (s, req, ack) => s.emit('secagg:reshare', req, ack),
};

function connectedOrThrow(socket: ServerSocket): string {
  const id = socket.data.clientId;
  if (!socket.connected) throw new ProtocolError('dropped', `${id} is not connected`);
  return id;
}

/** A `round:train` request and its packed acknowledgement. */
export async function trainAck(socket: ServerSocket, req: Packed<TrainRequest>, deadline: Deadline): Promise<Packed<Ack<TrainReply>>> {
  const id = connectedOrThrow(socket);
  return acknowledged(socket, deadline, { dropped: `${id} disconnected`, timeout: `${id} did not answer round:train within ${deadline.ms} ms` }, (ack) => socket.emit('round:train', req, ack));
}

/** A stage's request on its `secagg:<stage>` event and its packed acknowledgement. */
export async function stageAck<S extends Stage>(socket: ServerSocket, stage: S, req: Packed<StageRequest<S>>, deadline: Deadline): Promise<Packed<Ack<StageReply<S>>>> {
  const id = connectedOrThrow(socket);
  return acknowledged(socket, deadline, { dropped: `${id} disconnected`, timeout: `${id} did not answer secagg:${stage} within ${deadline.ms} ms` }, (ack: (res: Packed<Ack<StageReply<S>>>) => void) =>
    EMIT_STAGE[stage](socket, req, ack),
  );
}

/** The identity challenge and the client's signed answer. */
export function ackOrTimeout(socket: ServerSocket, payload: { nonce: string }, deadline: Deadline): Promise<{ signature: string }> {
  const id = socket.data.clientId;
  return acknowledged<{ signature: string }>(
    socket,
    deadline,
    { dropped: `${id} disconnected before proving its identity`, timeout: `${id} did not prove its identity within ${deadline.ms} ms` },
    (ack) => socket.emit('auth:challenge', payload, ack),
  );
}
