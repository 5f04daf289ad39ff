/**
 * Compile-only type tests of the wire events, as socket.io's test-d: the build (tsc over test/) fails when any of
 * these stops being a type error. Nothing here runs (every statement sits in a function never called). What they
 * pin: each secure-aggregation stage has its own event, typed by that stage's request and reply
 * (shared/secagg/messages.ts StageMessages); a client can emit nothing; the stage sender and the client's stage
 * machine pair each stage with its own messages; `round:train` carries a TrainRequest and is answered with an
 * Ack<TrainReply>; the identity challenge, `auth:refused`, `round:end` and `run:end` carry their own messages, and
 * every error code on the wire (an acknowledgement's, a refusal's) is the catalogue's.
 */
import type { Socket as ServerSideSocket } from 'socket.io';
import type { Ack, AuthRefused, ClientToServerEvents, RoundEnd, ServerToClientEvents, SocketData, TrainReply, TrainRequest } from '../../shared/protocol/events.js';
import { toWireError, type WireError } from '../../shared/protocol/errors.js';
import type { ErrorCode } from '../../shared/errors/catalogue.js';
import { pack, type Packed } from '../../shared/protocol/wire.js';
import type { StageSender } from '../../shared/engine/transport.js';
import type { SecAggClientRound } from '../../client/secagg-client.js';
import type { ClientSocket } from '../../client/stage-listeners.js';
import type { ConsistencyReply, Envelope, SetupReply, SetupRequest, UnmaskReply, UnmaskRequest } from '../../shared/secagg/messages.js';
import { parseAuthRefused, parseRoundEnd, parseRunEnd, parseStageReply, parseStageRequest, parseTrainRequest } from '../../shared/protocol/schemas.js';

type ServerSocket = ServerSideSocket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
declare const env: Envelope;
declare const setup: SetupRequest;
declare const unmask: UnmaskRequest;
declare const train: TrainRequest;

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

export function coordinatorTrains(socket: ServerSocket): void {
  socket.emit('round:train', pack(train), (res: Packed<Ack<TrainReply>>) => void res);
  // @ts-expect-error: a stage request on the train event
  socket.emit('round:train', pack(setup), (res: Packed<Ack<TrainReply>>) => void res);
  // @ts-expect-error: the train event's acknowledgement carries a TrainReply, not a stage's reply
  socket.emit('round:train', pack(train), (res: Packed<Ack<SetupReply>>) => void res);
  // @ts-expect-error: a train request is packed, never sent as a plain object
  socket.emit('round:train', train, (res: Packed<Ack<TrainReply>>) => void res);
  // @ts-expect-error: round:train is acknowledged
  socket.emit('round:train', pack(train));
}

export function coordinatorAuthenticates(socket: ServerSocket): void {
  socket.emit('auth:challenge', { nonce: '00' }, (res) => void res.signature);
  // @ts-expect-error: the challenge is a hex nonce, not bytes
  socket.emit('auth:challenge', { nonce: new Uint8Array(32) }, (res) => void res);
  // @ts-expect-error: the answer is { signature }, nothing else
  socket.emit('auth:challenge', { nonce: '00' }, (res: { sig: string }) => void res);
  socket.emit('auth:accepted');
  socket.emit('auth:refused', { code: 'not-enrolled', message: 'not on the list' });
  // @ts-expect-error: a refusal's code is the catalogue's, not any string
  socket.emit('auth:refused', { code: 'ENOENT', message: 'no such file' });
  // @ts-expect-error: a refusal names its problem
  socket.emit('auth:refused', { code: 'auth' });
}

export function coordinatorEnds(socket: ServerSocket): void {
  socket.emit('round:end', { round: 1, status: 'aborted', reason: 'below the threshold' });
  // @ts-expect-error: a round ends completed or aborted, nothing else
  socket.emit('round:end', { round: 1, status: 'done' });
  socket.emit('run:end', { rounds: 3 }, () => undefined);
  // @ts-expect-error: run:end is acknowledged (the coordinator waits for it before closing)
  socket.emit('run:end', { rounds: 3 });
  // @ts-expect-error: rounds is a number
  socket.emit('run:end', { rounds: '3' }, () => undefined);
}

export function clientAnswersTrain(socket: ClientSocket): void {
  socket.on('round:train', (raw, ack) => {
    const ok: Packed<TrainRequest> = raw;
    ack(pack<Ack<TrainReply>>({ ok: true, reply: { numExamples: 10, loss: 0.5 } }));
    ack(pack<Ack<TrainReply>>({ ok: false, error: { code: 'stale-round', message: 'over' } }));
    // @ts-expect-error: answering train with a stage's reply
    ack(pack<Ack<SetupReply>>({ ok: true, reply: { cPk: new Uint8Array(32), sPk: new Uint8Array(32), signature: new Uint8Array(64) } }));
    // @ts-expect-error: the train request is not a stage request
    const wrong: Packed<SetupRequest> = raw;
    void ok;
    void wrong;
  });
  // @ts-expect-error: a refusal's code is the catalogue's
  const bad: AuthRefused = { code: 'refused', message: '' };
  void bad;
}

export function errorsOnTheWireAreCatalogued(err: unknown, v: unknown): void {
  const code: ErrorCode = toWireError(err).code;
  // @ts-expect-error: a WireError's code is the catalogue's union, not any string
  const enoent: WireError = { code: 'ENOENT', message: 'no such file' };
  // @ts-expect-error: an acknowledgement's refusal carries a catalogued code
  const ack: Ack<TrainReply> = { ok: false, error: { code: 'oops', message: '' } };
  const refused: AuthRefused = parseAuthRefused(v);
  const end: RoundEnd = parseRoundEnd(v);
  // @ts-expect-error: run:end's rounds is a number
  const rounds: string = parseRunEnd(v).rounds;
  // @ts-expect-error: the decoded train request's weights are float32, not the wire's bytes
  const weights: Uint8Array<ArrayBuffer> = parseTrainRequest(v).weightsF32;
  void code;
  void enoent;
  void ack;
  void refused;
  void end;
  void rounds;
  void weights;
}
