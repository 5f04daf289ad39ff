/**
 * The client library: `connect(url, options)` opens a socket.io connection to a coordinator, authenticates
 * (protocol version, token, and a signed proof that it holds its Ed25519 identity key), reconnects with backoff, and answers every request: local
 * training (through a `Trainer`) and every secure-aggregation stage (through a per-round `SecAggClientRound`).
 * The same code serves a real device and a virtual client in a simulation; only the trainer differs.
 */
import { io } from 'socket.io-client';
import type nacl from 'tweetnacl';
import { SecAggClientRound } from './secagg-client.js';
import type { Trainer } from './trainer.js';
import { PROTOCOL_VERSION, type Ack, type AuthRefused, type RoundEnd, type RunEnd, type TrainReply } from '../shared/protocol/events.js';
import { toWireError } from '../shared/protocol/errors.js';
import { CodedError, messageOf, peerErrorCode } from '../shared/errors/catalogue.js';
import { parseAuthRefused, parseIdentityChallenge, parseRoundEnd, parseRunEnd, parseStageRequest, parseTrainRequest } from '../shared/protocol/schemas.js';
import { ProtocolError } from '../shared/protocol/errors.js';
import { signProof } from '../shared/protocol/identity-proof.js';
import { pack, toWire, unpack } from '../shared/protocol/wire.js';
import { isBvaProbe } from '../shared/defense/bva-vectors.js';
import type { SetupRequest, Stage, StageReply, StageRequest } from '../shared/secagg/messages.js';
import type { VectorSpec } from '../shared/secagg/quantize.js';
import { toHex } from '../shared/secagg/encoding.js';
import { onStageEvents, type ClientSocket } from './stage-listeners.js';
import { ConnectError, isTransportError } from './connect-error.js';

/** Options of `connect`. */
export interface ClientOptions {
  clientId: string;
  token: string;
  identity: nacl.SignKeyPair;
  trainer: Trainer;
  /** Identity keys pinned out of band (active threat model); default: trust the coordinator's enrolment list. */
  pinnedIdentities?: ReadonlyMap<string, Uint8Array>;
  /** Reconnection with exponential backoff (default on: 0.5 s doubling to 10 s). */
  reconnection?: boolean;
  /** Consecutive failed reconnection attempts before giving up ('reconnect_failed' on `socket.io`); default unlimited. */
  maxReconnectAttempts?: number;
  /** Stochastic (default) or half-up rounding of secure-aggregation inputs (half-up for reproducible tests). */
  rounding?: 'stochastic' | 'half-up';
  log?: (line: string) => void;
  /**
   * Called before this client answers a request (`train` or a secure-aggregation stage; `phase` names the sum
   * for per-sum stages, '' otherwise). Resolving 'answer' proceeds; 'silent' never answers (the coordinator's
   * stage timeout fires); 'disconnect' closes the connection. An extension point for instrumentation and for
   * fault injection in simulations (straggler delays, crashes at a chosen stage); absent on a normal client.
   */
  beforeReply?: (at: { stage: 'train' | Stage; round: number; phase: string }) => ReplyDecision | Promise<ReplyDecision>;
}

/** What `beforeReply` decides. */
export type ReplyDecision = 'answer' | 'silent' | 'disconnect';

/**
 * The coordinator's notices, validated, by event: what a session's owner listens to (`session.on`) instead of the
 * socket's events of the same names, whose payloads are as received, unchecked.
 */
export interface SessionNotices {
  /** The coordinator refused the identity proof; a malformed refusal is one all the same (code `auth`, saying so). */
  'auth:refused': AuthRefused;
  /** A round ended (after the session dropped the round's state); a malformed notice is logged and dropped. */
  'round:end': RoundEnd;
  /** The run is over, and the session has acknowledged it; a malformed notice is logged, dropped, not acknowledged. */
  'run:end': RunEnd;
}

/** A connected client. */
export interface ClientSession {
  /**
   * The connection. Its `auth:refused`, `round:end` and `run:end` payloads are unchecked: listen to those through
   * `on`, which hands on only what passed validation.
   */
  socket: ClientSocket;
  /** Adds a listener of a validated notice (see SessionNotices); listeners run in the order added. */
  on: <E extends keyof SessionNotices>(event: E, listener: (msg: SessionNotices[E]) => void) => void;
  /** Resolves once connected (rejects with the coordinator's reason if refused). */
  ready: Promise<void>;
  /** Rounds this client finished (completed or aborted). */
  roundsSeen: () => number;
  close: () => void;
}

/** Connects to a coordinator and starts answering its requests. */
export function connect(url: string, opts: ClientOptions): ClientSession {
  const log = opts.log ?? (() => undefined);
  const socket: ClientSocket = io(url, {
    auth: { protocolVersion: PROTOCOL_VERSION, clientId: opts.clientId, token: opts.token, identityPk: toHex(opts.identity.publicKey) },
    reconnection: opts.reconnection ?? true,
    ...(opts.maxReconnectAttempts !== undefined ? { reconnectionAttempts: opts.maxReconnectAttempts } : {}),
    reconnectionDelay: 500,
    reconnectionDelayMax: 10_000,
    transports: ['websocket'],
  });
  let secagg: { round: number; serial: number; machine: SecAggClientRound } | undefined;
  // Which key agreement (setup) of this connection's life each sum's input was masked in, and whether that one
  // reached unmask: an update enters at most one released sum (guardRemask).
  let setups = 0;
  const masked = new Map<string, { serial: number; unmasked: boolean }>();
  const sumKey = (env: { runId: Uint8Array; round: number; phase?: string }): string => `${toHex(env.runId)}:${env.round}:${env.phase ?? ''}`;

  /**
   * Refuses to mask an input again for a sum (run, round, phase) whose input this client already masked under an
   * earlier key agreement that reached unmask (docs/spec/secure-aggregation.md §6.2): that earlier sum may have
   * been released, and two sums of one update over different survivor sets give the update away. A key agreement
   * abandoned before unmask (share-box complaints, a coordinator stopped before unmask) released nothing, so
   * masking again under fresh keys is safe and allowed.
   */
  function guardRemask(env: { runId: Uint8Array; round: number; phase?: string }, serial: number): void {
    const key = sumKey(env);
    const before = masked.get(key);
    if (before !== undefined && before.serial !== serial && before.unmasked) {
      throw new CodedError('remask-refused', `round ${env.round} sum '${env.phase ?? ''}': this client's input was already in a sum that reached unmask; it is never masked again`);
    }
    if (before === undefined || before.serial !== serial) masked.set(key, { serial, unmasked: false });
    // Forget sums of rounds long past (a resumed run repeats at most the round in progress).
    for (const [k, v] of masked) if (Number(k.split(':')[1]) < env.round - 2 && v.serial !== serial) masked.delete(k);
  }

  function markUnmasked(env: { runId: Uint8Array; round: number; phase?: string }, serial: number): void {
    const entry = masked.get(sumKey(env));
    if (entry !== undefined && entry.serial === serial) entry.unmasked = true;
  }
  const listeners: { [E in keyof SessionNotices]: ((msg: SessionNotices[E]) => void)[] } = { 'auth:refused': [], 'round:end': [], 'run:end': [] };
  /** Hands a validated notice to the owner's listeners (a listener's throw goes on up, as a socket listener's would). */
  function notify<E extends keyof SessionNotices>(event: E, msg: SessionNotices[E]): void {
    const each: ((msg: SessionNotices[E]) => void)[] = listeners[event];
    for (const l of [...each]) l(msg);
  }
  let trainedRound = 0;
  let lastWeights: Float32Array | undefined;
  let baseWeights: Float32Array | undefined;
  let rounds = 0;

  /** Whether to go on answering, per `beforeReply`. */
  async function proceed(stage: 'train' | Stage, round: number, phase: string): Promise<boolean> {
    if (opts.beforeReply === undefined) return true;
    const decision = await opts.beforeReply({ stage, round, phase });
    if (decision === 'disconnect') socket.disconnect();
    return decision === 'answer';
  }

  socket.on('round:train', async (raw, ackRaw) => {
    const ack = (res: Ack<TrainReply>): void => ackRaw(pack(res));
    try {
      const req = parseTrainRequest(unpack(raw, 'round:train'));
      if (!(await proceed('train', req.round, ''))) return;
      // A request the client got to late (it was slow, the coordinator moved on) must not overwrite a newer round.
      if (req.round < trainedRound) throw new CodedError('stale-round', `round ${req.round} is over: this client already trained for round ${trainedRound}`);
      // A round whose update this client already masked is never sent in the clear (a coordinator resumed in
      // plaintext mode would otherwise get the interrupted secure round's update as is).
      if (req.returnWeights && [...masked.keys()].some((k) => k.split(':')[1] === String(req.round))) {
        throw new CodedError('remask-refused', `round ${req.round}: this client's update was already masked for a secure sum; it is not sent in plaintext`);
      }
      const out = await opts.trainer.train({
        round: req.round,
        model: req.model,
        weights: req.weightsF32,
        ...(req.sharedF32 !== undefined ? { sharedSet: { x: req.sharedF32, labels: Uint8Array.from(req.sharedSet!.labels) } } : {}),
        train: req.train,
      });
      if (req.round < trainedRound) throw new CodedError('stale-round', `round ${req.round} finished training after round ${trainedRound}; result dropped`);
      trainedRound = req.round;
      baseWeights = req.weightsF32;
      lastWeights = out.weights;
      ack({ ok: true, reply: { numExamples: out.numExamples, loss: out.loss, ...(req.returnWeights ? { weights: toWire(out.weights) } : {}) } });
    } catch (err) {
      log(`round:train refused: ${messageOf(err)}`);
      ack({ ok: false, error: toWireError(err) });
    }
  });

  /** A setup request starts the round's secure-aggregation state machine (replacing any earlier one). */
  function beginSecAgg(setup: SetupRequest): void {
    const { env } = setup;
    if (env.round !== trainedRound) throw new CodedError('not-in-round', `setup for round ${env.round}, but this client trained for round ${trainedRound}`);
    secagg?.machine.dispose();
    const enrolled = new Map((setup.identities ?? []).map((e) => [e.clientId, Uint8Array.from(e.identityPk)]));
    secagg = {
      round: env.round,
      serial: ++setups,
      machine: new SecAggClientRound(
        {
          clientId: opts.clientId,
          identity: opts.identity,
          peerIdentity: (peer) => opts.pinnedIdentities?.get(peer) ?? enrolled.get(peer),
          input: (phase, spec, payload) => inputFor(env.round, phase, spec, payload),
          rounding: opts.rounding ?? 'stochastic',
        },
        Uint8Array.from(env.runId),
        env.round,
      ),
    };
  }
  /** What a stage does on this side before the round's state machine answers it. */
  const beforeStage: { [S in Stage]?: (req: StageRequest<S>) => void } = { setup: beginSecAgg };

  onStageEvents(socket, async (stage, raw, ackRaw) => {
    const ack = (res: Ack<StageReply<typeof stage>>): void => ackRaw(pack(res));
    try {
      const request = parseStageRequest(stage, unpack(raw, `secagg:${stage}`));
      const env = request.env;
      if (!(await proceed(stage, env.round, env.phase))) return;
      beforeStage[stage]?.(request);
      if (secagg === undefined || secagg.round !== env.round) throw new CodedError('stage-order', `no secure-aggregation state for round ${env.round}`);
      if (stage === 'collectMasked') guardRemask(env, secagg.serial);
      if (stage === 'unmask') markUnmasked(env, secagg.serial);
      ack({ ok: true, reply: await secagg.machine.handle(stage, request) });
    } catch (err) {
      log(`secagg:${stage} refused: ${messageOf(err)}`);
      ack({ ok: false, error: toWireError(err) });
    }
  });

  /** A sum's input: the model update Δ = w_k − w_t, or a Decent_BVA phase's statistics. */
  async function inputFor(round: number, phase: string, spec: VectorSpec, payload: unknown): Promise<ArrayLike<number>[]> {
    if (phase === 'model') {
      if (lastWeights === undefined || baseWeights === undefined || round !== trainedRound) throw new Error(`no trained model for round ${round}`);
      const delta = new Float32Array(lastWeights.length);
      for (let i = 0; i < delta.length; i++) delta[i] = lastWeights[i]! - baseWeights[i]!;
      return [delta];
    }
    if (!isBvaProbe(payload)) throw new ProtocolError('bad-payload', `sum '${phase}': expected a Decent_BVA probe as its payload`);
    return opts.trainer.bvaInputs(round, spec, payload);
  }

  // Every connection starts with the coordinator's identity challenge: sign its nonce with the identity key.
  socket.on('auth:challenge', (msg, ack) => {
    try {
      const nonce = parseIdentityChallenge(msg);
      if (typeof ack === 'function') ack({ signature: toHex(signProof(nonce, opts.clientId, opts.identity)) });
    } catch (err) {
      log(`identity challenge refused: ${messageOf(err)}`);
    }
  });

  socket.on('run:end', (msg: unknown, ack) => {
    let end;
    try {
      end = parseRunEnd(msg);
    } catch (err) {
      log(`run:end ignored: ${messageOf(err)}`);
      return;
    }
    if (typeof ack === 'function') ack();
    notify('run:end', end);
  });

  socket.on('round:end', (msg: unknown) => {
    let end;
    try {
      end = parseRoundEnd(msg);
    } catch (err) {
      log(`round:end ignored: ${messageOf(err)}`);
      return;
    }
    if (secagg?.round === end.round) {
      secagg.machine.dispose();
      secagg = undefined;
    }
    opts.trainer.endRound(end.round);
    lastWeights = undefined;
    rounds++;
    log(`round ${end.round} ${end.status}`);
    notify('round:end', end);
  });

  // Ready once the coordinator accepted the identity proof (not at the transport's 'connect').
  const ready = new Promise<void>((resolve, reject) => {
    socket.once('auth:accepted', () => resolve());
    socket.on('auth:refused', (msg: unknown) => {
      const m = authRefusal(msg, log);
      reject(new CodedError(m.code, `coordinator refused the identity proof: ${m.message}`));
      notify('auth:refused', m);
    });
    let lastError: Error | undefined;
    socket.on('connect_error', (err: Error) => {
      lastError = err;
      // A refused handshake ends the socket (no longer active); a transport failure is retried with backoff, when
      // reconnection is on: with it off, nothing more will happen, so this attempt's failure is final.
      if (socket.active && socket.io.reconnection()) return;
      reject(isTransportError(err) ? new ConnectError(url, err) : new CodedError(peerErrorCode(refusalCode(err), 'auth'), `coordinator refused the connection: ${err.message}`));
    });
    // Reconnection on, with a limit, and every attempt failed.
    socket.io.once('reconnect_failed', () =>
      reject(lastError !== undefined && isTransportError(lastError) ? new ConnectError(url, lastError) : new CodedError('unreachable', `cannot connect to ${url}: no answer`)),
    );
  });
  // A rejection nobody awaits must not end the process: the session's owner may only watch the socket.
  ready.catch(() => undefined);
  return {
    socket,
    ready,
    roundsSeen: () => rounds,
    on: (event, listener) => void listeners[event].push(listener),
    close: () => {
      secagg?.machine.dispose();
      socket.close();
    },
  };
}

/** The coordinator's reason for refusing the identity proof; a malformed notice is a refusal all the same. */
function authRefusal(msg: unknown, log: (line: string) => void): AuthRefused {
  try {
    return parseAuthRefused(msg);
  } catch (err) {
    log(`auth:refused malformed: ${messageOf(err)}`);
    return { code: 'auth', message: 'refused, with a malformed notice (no reason given)' };
  }
}

/** The code a coordinator's handshake refusal carries (socket.io's `connect_error` with the middleware's `data`). */
function refusalCode(err: Error): unknown {
  return 'data' in err && typeof err.data === 'object' && err.data !== null && 'code' in err.data ? err.data.code : undefined;
}
