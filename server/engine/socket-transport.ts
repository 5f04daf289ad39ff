/**
 * The round transport over socket.io: the registry of proven connections (one per client id) and the requests the
 * round engine sends them. Every request is acknowledged within its stage's timeout (socket-ack.ts); a client that
 * is not connected, times out, disconnects, refuses or sends a reply that fails validation is a failure record,
 * never an exception (architecture.md, "Transport on the coordinator").
 */
import type { DEFAULT_TIMEOUTS_MS, RoundEnd, TrainRequest } from '../../shared/protocol/events.js';
import { ProtocolError } from '../../shared/protocol/errors.js';
import { messageOf } from '../../shared/errors/catalogue.js';
import { ackSchema, parseStageReply, parseTrainReply } from '../../shared/protocol/schemas.js';
import { pack, unpack } from '../../shared/protocol/wire.js';
import type { Stage, StageReply, StageRequest } from '../../shared/secagg/messages.js';
import type { ClientOutcome, RoundTransport, ValidTrainReply } from '../../shared/engine/transport.js';
import { stageAck, trainAck, type ServerSocket } from '../socket-ack.js';
import { systemDeadlines, type Deadlines } from '../../shared/engine/clock.js';

/** An acknowledgement's reply (validated by its stage's schema afterwards), or the refusal it carries as an error. */
function ackReply(res: unknown, malformed: string, refused: string): unknown {
  const r = ackSchema.safeParse(res);
  if (!r.success) throw new ProtocolError('bad-payload', malformed);
  const ack = r.data;
  if (!ack.ok) throw new ProtocolError('bad-payload', `${refused}: ${ack.error.code}: ${ack.error.message}`);
  return ack.reply;
}

/** How long the coordinator waits for a client to acknowledge `run:end` before it closes anyway. */
export const RUN_END_MS = 2000;

/** Proven connections and the round requests sent over them. */
export class SocketTransport implements RoundTransport {
  private readonly sockets = new Map<string, ServerSocket>();
  private waiters: (() => void)[] = [];
  private closed = false;
  private sent = 0;
  /** Told of every secure-aggregation stage request as it goes out (the dashboard's current stage). */
  onStage: ((stage: Stage, round: number, phase: string) => void) | undefined;

  constructor(
    private readonly timeouts: typeof DEFAULT_TIMEOUTS_MS,
    private readonly log: (line: string) => void,
    /** Where the timeouts run out (default: the event loop's timers; tests inject their own). */
    private readonly deadlines: Deadlines = systemDeadlines,
  ) {}

  get bytesSent(): number {
    return this.sent;
  }

  /** How many clients are connected. */
  get size(): number {
    return this.sockets.size;
  }

  /** The connection of a client, if connected. */
  socketOf(id: string): ServerSocket | undefined {
    return this.sockets.get(id);
  }

  /** Ids of the connected clients, sorted. */
  connected(): string[] {
    return [...this.sockets.keys()].sort();
  }

  /** Every connection. */
  all(): ServerSocket[] {
    return [...this.sockets.values()];
  }

  /** Makes `socket` the connection of `id`; returns the older connection it replaces, if any. */
  attach(id: string, socket: ServerSocket): ServerSocket | undefined {
    const stale = this.sockets.get(id);
    this.sockets.set(id, socket);
    for (const w of this.waiters.splice(0)) w();
    return stale !== undefined && stale !== socket ? stale : undefined;
  }

  /** Forgets `socket` if it is still the connection of `id`; returns whether it was. */
  detach(id: string, socket: ServerSocket): boolean {
    if (this.sockets.get(id) !== socket) return false;
    this.sockets.delete(id);
    return true;
  }

  async waitForClients(n: number, round: number): Promise<void> {
    // Said once per wait, so a run that stalls for want of clients says why rather than sitting silent.
    if (this.sockets.size < n && !this.closed) this.log(`waiting for clients: round ${round} needs ${n} connected, ${this.sockets.size} are`);
    while (this.sockets.size < n && !this.closed) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Ends every wait; later waits return at once. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
  }

  async sendAndReceive(requests: ReadonlyMap<string, TrainRequest>): Promise<Map<string, ClientOutcome<ValidTrainReply>>> {
    const out = new Map<string, ClientOutcome<ValidTrainReply>>();
    await Promise.all(
      [...requests].map(async ([id, req]) => {
        const socket = this.sockets.get(id);
        if (socket === undefined) return out.set(id, { ok: false, reason: 'not connected' });
        try {
          this.sent += req.weights.byteLength + (req.sharedSet?.x.byteLength ?? 0);
          const res = unpack(await trainAck(socket, pack(req), { ms: this.timeouts.train, deadlines: this.deadlines }), `${id} round:train reply`);
          return out.set(id, { ok: true, reply: parseTrainReply(ackReply(res, 'malformed acknowledgement', 'refused'), req.weights.byteLength / 4, req.returnWeights) });
        } catch (err) {
          this.log(`round:train to ${id} failed: ${messageOf(err)}`);
          return out.set(id, { ok: false, reason: messageOf(err) });
        }
      }),
    );
    // In the requests' order, as the interface promises (replies arrive in any order).
    return new Map([...requests.keys()].map((id) => [id, out.get(id)!]));
  }

  readonly sendStage = async <S extends Stage>(stage: S, id: string, request: StageRequest<S>): Promise<StageReply<S>> => {
    const socket = this.sockets.get(id);
    if (socket === undefined) throw new ProtocolError('dropped', `${id} is not connected`);
    const packed = pack(request);
    this.sent += packed.blob.byteLength;
    this.onStage?.(stage, request.env.round, request.env.phase);
    const res = unpack(await stageAck(socket, stage, packed, { ms: this.timeouts[stage], deadlines: this.deadlines }), `${id} ${stage} reply`);
    return parseStageReply(stage, ackReply(res, `${id}: malformed acknowledgement`, `${id} refused ${stage}`), request);
  };

  endRound(cohort: readonly string[], end: RoundEnd): void {
    for (const id of cohort) this.sockets.get(id)?.emit('round:end', end);
  }

  /**
   * `run:end` to every connection, acknowledged (at most RUN_END_MS each, on the injected deadlines), so the notice
   * arrives before the server closes.
   */
  async endRun(rounds: number): Promise<void> {
    await Promise.allSettled(
      this.all().map(
        (s) =>
          new Promise<void>((resolve) => {
            const cancel = this.deadlines.arm(RUN_END_MS, resolve);
            s.emit('run:end', { rounds }, () => {
              cancel();
              resolve();
            });
          }),
      ),
    );
  }
}
