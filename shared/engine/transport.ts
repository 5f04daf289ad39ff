/**
 * The round engine's view of the clients: a transport that sends a batch of per-client requests and returns one
 * outcome per client. Implementations: server/engine/socket-transport.ts (socket.io, the coordinator) and
 * in-memory-transport.ts (the in-process runner, tests). The engine never sees a socket, a timer or a wire
 * encoding: timeouts, disconnects and validation are the transport's, and each surfaces as a failure record.
 */
import type { RoundEnd, TrainReply, TrainRequest } from '../protocol/events.js';
import type { Stage, StageReply, StageRequest } from '../secagg/messages.js';

/** One client's outcome: its validated reply, or why there is none (timeout, disconnect, refusal, bad reply). */
export type ClientOutcome<R> = { ok: true; reply: R } | { ok: false; reason: string };

/** A `round:train` reply that passed validation, with the weights decoded when the request asked for them. */
export type ValidTrainReply = TrainReply & { weightsF32?: Float32Array };

/**
 * Sends one secure-aggregation stage request to one client and resolves to its validated reply; rejects on
 * timeout, disconnect, a bad reply or a typed client error (SecureSumSession turns that into a failure record).
 */
export type StageSender = <S extends Stage>(stage: S, clientId: string, request: StageRequest<S>) => Promise<StageReply<S>>;

/** What the engine needs from the clients' side of a round. */
export interface RoundTransport {
  /** The clients that may be drawn into a cohort now, in a stable order (the socket.io transport sorts them). */
  connected(): string[];
  /** Resolves once at least `n` clients are connected, or the transport is closed. */
  waitForClients(n: number, round: number): Promise<void>;
  /**
   * Sends each client its `round:train` request and resolves to one outcome per client, in the map's order.
   * Never rejects because of a client: a client that is not connected, fails, times out, disconnects or sends a
   * reply that fails validation (`parseTrainReply` against the request's model size) is a failure record.
   */
  sendAndReceive(requests: ReadonlyMap<string, TrainRequest>): Promise<Map<string, ClientOutcome<ValidTrainReply>>>;
  /** The per-client stage sender of secure aggregation (replies validated with `parseStageReply`). */
  sendStage: StageSender;
  /** Tells the cohort the round is over (a notice, unacknowledged; absent clients are skipped). */
  endRound(cohort: readonly string[], end: RoundEnd): void;
  /** Bytes of tensors and masked vectors sent so far (metrics' `bytesSent` is a round's difference). */
  readonly bytesSent: number;
}
