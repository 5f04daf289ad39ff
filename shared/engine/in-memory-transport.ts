/**
 * A round transport to clients in this process: the in-process runner's and the tests'. Every message takes the
 * wire path of the socket.io transport without a socket: packed and unpacked (`wire.ts`), the request parsed as
 * a client parses it, the reply validated as the coordinator validates it. So both transports give the engine
 * the same outcomes for the same client behaviour (test/round-transport.contract.test.ts).
 *
 * No timers: a client that answers `NO_REPLY` is reported as timed out at once, so no wall-clock time decides
 * a result.
 */
import type { RoundEnd, TrainReply, TrainRequest } from '../protocol/events.js';
import { ProtocolError } from '../protocol/errors.js';
import { parseStageReply, parseStageRequest, parseTrainReply, parseTrainRequest } from '../protocol/schemas.js';
import { pack, unpack } from '../protocol/wire.js';
import type { Stage, StageReply, StageRequest } from '../secagg/messages.js';
import type { ClientOutcome, RoundTransport, ValidTrainReply } from './transport.js';

/** A client's answer that never comes (reported as a timeout, without waiting). */
export const NO_REPLY: unique symbol = Symbol('no reply');

/** A `round:train` request as a client receives it: the weights and D̂_s decoded. */
export type ReceivedTrainRequest = ReturnType<typeof parseTrainRequest>;

/** A client in this process. A handler that throws is a refusal (a failure record, as over socket.io). */
export interface InMemoryClient {
  train(request: ReceivedTrainRequest): Promise<TrainReply | typeof NO_REPLY>;
  /**
   * A secure-aggregation stage (the request as parsed on a client); absent: the client refuses every stage. The
   * reply is untyped on purpose: it is validated on receipt as a wire reply is, so a test client may answer junk.
   */
  stage?<S extends Stage>(stage: S, request: StageRequest<S>): Promise<unknown>;
  roundEnd?(end: RoundEnd): void;
}

/** Clients in this process behind the round-transport interface. */
export class InMemoryTransport implements RoundTransport {
  private readonly clients = new Map<string, InMemoryClient>();
  private sent = 0;

  /** `clients` in the order `connected()` lists them (the runner's client order). */
  constructor(clients: Iterable<readonly [string, InMemoryClient]> = []) {
    for (const [id, c] of clients) this.clients.set(id, c);
  }

  /** Connects a client (replacing one of the same id). */
  add(id: string, client: InMemoryClient): void {
    this.clients.set(id, client);
  }

  /** Disconnects a client: later requests to it fail as 'not connected'. */
  remove(id: string): void {
    this.clients.delete(id);
  }

  get bytesSent(): number {
    return this.sent;
  }

  connected(): string[] {
    return [...this.clients.keys()];
  }

  /** Clients connect only through `add`, so a wait for more than are connected could never end: it is refused. */
  async waitForClients(n: number, round: number): Promise<void> {
    if (this.clients.size < n) throw new Error(`round ${round} needs ${n} connected clients; the in-memory transport has ${this.clients.size}`);
  }

  async sendAndReceive(requests: ReadonlyMap<string, TrainRequest>): Promise<Map<string, ClientOutcome<ValidTrainReply>>> {
    const out = new Map<string, ClientOutcome<ValidTrainReply>>();
    // Sequentially, in the map's order: in-process training is synchronous compute, so this is the order it
    // would run in anyway, and the order is part of what makes a run reproducible.
    for (const [id, req] of requests) {
      out.set(id, await this.train(id, req));
    }
    return out;
  }

  private async train(id: string, req: TrainRequest): Promise<ClientOutcome<ValidTrainReply>> {
    const client = this.clients.get(id);
    if (client === undefined) return { ok: false, reason: 'not connected' };
    try {
      this.sent += req.weights.byteLength + (req.sharedSet?.x.byteLength ?? 0);
      const received = parseTrainRequest(unpack(pack(req), 'round:train'));
      const reply = await client.train(received);
      if (reply === NO_REPLY) throw new ProtocolError('timeout', `${id} did not answer round:train`);
      return { ok: true, reply: parseTrainReply(unpack(pack(reply), `${id} round:train reply`), req.weights.byteLength / 4, req.returnWeights) };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  readonly sendStage = async <S extends Stage>(stage: S, id: string, request: StageRequest<S>): Promise<StageReply<S>> => {
    const client = this.clients.get(id);
    if (client === undefined) throw new ProtocolError('dropped', `${id} is not connected`);
    const packed = pack(request);
    this.sent += packed.blob.byteLength;
    const received = parseStageRequest(stage, unpack(packed, `secagg:${stage}`));
    if (client.stage === undefined) throw new ProtocolError('bad-payload', `${id} refused ${stage}: this client takes no secure-aggregation stages`);
    const reply = await client.stage(stage, received);
    if (reply === NO_REPLY) throw new ProtocolError('timeout', `${id} did not answer secagg:${stage} within its stage timeout`);
    return parseStageReply(stage, unpack(pack(reply), `${id} ${stage} reply`), request);
  };

  endRound(cohort: readonly string[], end: RoundEnd): void {
    for (const id of cohort) this.clients.get(id)?.roundEnd?.(end);
  }
}
