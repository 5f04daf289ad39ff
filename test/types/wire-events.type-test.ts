/**
 * Compile-only type tests of the wire events, as socket.io's test-d: the build (tsc over test/) fails when any of
 * these stops being a type error. Nothing here runs (every statement sits in a function never called). What they
 * pin: each secure-aggregation stage has its own event, typed by that stage's request and reply
 * (shared/secagg/messages.ts StageMessages); a client can emit nothing; the stage sender and the client's stage
 * machine pair each stage with its own messages.
 */
import type { Socket as ServerSideSocket } from 'socket.io';
import type { Ack, ClientToServerEvents, ServerToClientEvents, SocketData } from '../../shared/protocol/events.js';
import { pack, type Packed } from '../../shared/protocol/wire.js';
import type { StageSender } from '../../shared/engine/transport.js';
import type { SecAggClientRound } from '../../client/secagg-client.js';
import type { ClientSocket } from '../../client/stage-listeners.js';
import type { ConsistencyReply, Envelope, SetupReply, SetupRequest, UnmaskReply, UnmaskRequest } from '../../shared/secagg/messages.js';
import { parseStageReply, parseStageRequest } from '../../shared/protocol/schemas.js';

type ServerSocket = ServerSideSocket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
declare const env: Envelope;
declare const setup: SetupRequest;
declare const unmask: UnmaskRequest;

export function coordinatorEmits(socket: ServerSocket): void {
  socket.emit('secagg:setup', pack(setup), (res: Packed<Ack<SetupReply>>) => void res);
  // @ts-expect-error: an unmask request on the setup event
  socket.emit('secagg:setup', pack(unmask), (res: Packed<Ack<SetupReply>>) => void res);
  // @ts-expect-error: the setup event's acknowledgement carries a setup reply, not an unmask reply
  socket.emit('secagg:setup', pack(setup), (res: Packed<Ack<UnmaskReply>>) => void res);
  // @ts-expect-error: the old catch-all event is gone
  socket.emit('secagg', pack({ stage: 'setup', request: setup }), (res: Packed) => void res);
  // @ts-expect-error: a stage request is packed, never sent as a plain object
  socket.emit('secagg:unmask', unmask, (res: Packed<Ack<UnmaskReply>>) => void res);
}

export function clientListens(socket: ClientSocket): void {
  socket.on('secagg:unmask', (raw, ack) => {
    const ok: Packed<UnmaskRequest> = raw;
    ack(pack<Ack<UnmaskReply>>({ ok: true, reply: { selfShares: [], skShares: [] } }));
    // @ts-expect-error: the unmask event's request is not a setup request
    const wrong: Packed<SetupRequest> = raw;
    // @ts-expect-error: answering unmask with a consistency reply
    ack(pack<Ack<ConsistencyReply>>({ ok: true, reply: { signature: new Uint8Array(64) } }));
    void ok;
    void wrong;
  });
  // @ts-expect-error: clients emit no events of their own
  socket.emit('round:train', pack({}));
  // @ts-expect-error: not even one that looks like a stage
  socket.emit('secagg:setup', pack(setup));
}

export async function senderPairsStages(send: StageSender, machine: SecAggClientRound): Promise<void> {
  const reply: UnmaskReply = await send('unmask', 'client-1', unmask);
  // @ts-expect-error: the setup stage's reply is a SetupReply, not an UnmaskReply
  const wrongReply: UnmaskReply = await send('setup', 'client-1', setup);
  // @ts-expect-error: a setup request sent as unmask
  await send('unmask', 'client-1', setup);
  // @ts-expect-error: the client's machine refuses the same pairing
  await machine.handle('setup', { env, alive: [], dropped: [] });
  const keys: SetupReply = await machine.handle('setup', setup);
  void reply;
  void wrongReply;
  void keys;
}

export function validatorsAreTyped(v: unknown): void {
  const req: UnmaskRequest = parseStageRequest('unmask', v);
  // @ts-expect-error: the unmask validator gives an unmask request, not a setup request
  const wrong: SetupRequest = parseStageRequest('unmask', v);
  const rep: SetupReply = parseStageReply('setup', v, setup);
  // @ts-expect-error: a reply validator needs the request of its own stage (collectMasked's gives y's length)
  parseStageReply('collectMasked', v, unmask);
  void req;
  void wrong;
  void rep;
}
