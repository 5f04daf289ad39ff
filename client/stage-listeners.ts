/**
 * The client's listeners of the secure-aggregation stage events (`secagg:setup`, `secagg:shareKeys`, …; protocol
 * /events.ts StageEvents). One table entry per stage, each typed by its own event, so a stage added to the
 * protocol without a listener here fails the build, and one handler, generic in the stage, answers them all.
 */
import type { Socket } from 'socket.io-client';
import type { Ack, ClientToServerEvents, ServerToClientEvents } from '../shared/protocol/events.js';
import type { Packed } from '../shared/protocol/wire.js';
import { STAGES, type Stage, type StageReply, type StageRequest } from '../shared/secagg/messages.js';

/** A client connection as the client library types it. */
export type ClientSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * Answers stage S's request (as received: packed, not yet validated) through its acknowledgement. An async handler
 * must not reject: it answers every failure with a refusal through `ack`, as client/session.ts does.
 */
export type StageHandler = <S extends Stage>(stage: S, raw: Packed<StageRequest<S>>, ack: (res: Packed<Ack<StageReply<S>>>) => void) => void | Promise<void>;

const LISTEN: { [S in Stage]: (socket: ClientSocket, handler: StageHandler) => void } = {
  setup: (socket, h) => socket.on('secagg:setup', (raw, ack) => void h('setup', raw, ack)),
  shareKeys: (socket, h) => socket.on('secagg:shareKeys', (raw, ack) => void h('shareKeys', raw, ack)),
  checkBoxes: (socket, h) => socket.on('secagg:checkBoxes', (raw, ack) => void h('checkBoxes', raw, ack)),
  collectMasked: (socket, h) => socket.on('secagg:collectMasked', (raw, ack) => void h('collectMasked', raw, ack)),
  consistency: (socket, h) => socket.on('secagg:consistency', (raw, ack) => void h('consistency', raw, ack)),
  unmask: (socket, h) => socket.on('secagg:unmask', (raw, ack) => void h('unmask', raw, ack)),
  reshare: (socket, h) => socket.on('secagg:reshare', (raw, ack) => void h('reshare', raw, ack)),
};

/** Makes `handler` answer every stage's event on `socket`. */
export function onStageEvents(socket: ClientSocket, handler: StageHandler): void {
  for (const stage of STAGES) LISTEN[stage](socket, handler);
}
