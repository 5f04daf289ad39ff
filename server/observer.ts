/**
 * The read-only observer namespace (`/observer`) behind the coordinator's live dashboard: its own token, and only
 * summaries go out — the run's configuration (scalars), each round's cohort size, step, secure-aggregation stage
 * (its name and sum), survivors, dropouts,
 * loss, evaluation figures and time split, and the number of clients connected. No update, share, key or client
 * input is ever put into an observer message (every message is built here from numbers and strings, never from
 * the round's payloads), and nothing an observer sends is acted on: the namespace has no handlers, and the
 * training namespace refuses the observer token. The token is compared in constant time (SHA-256 digests, then
 * `timingSafeEqual`), and what observers send is logged for the first few events only, then counted, so an
 * observer cannot flood the coordinator's log.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Namespace, Server } from 'socket.io';
import type { RoundHooks, RoundMetrics } from '../shared/engine/round-metrics.js';
import type { FederatedConfig } from '../shared/federated/config.js';
import { printable } from './printable.js';

/** What the dashboard gets about a finished round. */
export interface ObservedRound {
  round: number;
  status: 'completed' | 'aborted';
  sampled: number;
  trained: number;
  survivors: number | null;
  dropouts: number;
  secaggDropouts: number;
  trainLoss: number | null;
  /** Evaluation figures by name (clean, fgsm, pgd-20, …), fractions in [0, 1]. */
  eval: Record<string, number>;
  /** Milliseconds per step of the round. */
  ms: Record<string, number>;
}

/** The dashboard's whole state (sent on connection, then kept current by events). */
export interface ObserverSnapshot {
  config: Record<string, string | number | boolean>;
  secure: boolean;
  connected: number;
  /** The round in progress: its step (train, keyAgreement, modelSum, sharedSet, eval) and secure-aggregation stage. */
  current: { round: number; phase: string; stage: string; sampled: number } | null;
  rounds: ObservedRound[];
  finished: boolean;
}

/** Events an observer receives. */
export interface ObserverEvents {
  'observe:snapshot': (s: ObserverSnapshot) => void;
  'observe:clients': (m: { connected: number }) => void;
  'observe:round-start': (m: { round: number; sampled: number }) => void;
  'observe:phase': (m: { round: number; phase: string }) => void;
  'observe:stage': (m: { round: number; stage: string }) => void;
  'observe:round': (m: ObservedRound) => void;
  'observe:end': (m: { rounds: number }) => void;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const numbers = (r: Record<string, unknown> | undefined): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(r ?? {})) if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
  return out;
};

/** The refusal of an observer's handshake, as socket.io hands it to the client (`connect_error`, with `data`). */
export class HandshakeRefusal extends Error {
  readonly data: { code: string };
  constructor(message: string, code: string) {
    super(message);
    this.name = 'HandshakeRefusal';
    this.data = { code };
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * Whether `given` is the observer token, in time that does not depend on where they differ: both are hashed to
 * SHA-256 digests of equal length, which `timingSafeEqual` compares.
 */
export function observerTokenMatches(given: unknown, expected: Buffer): boolean {
  return typeof given === 'string' && timingSafeEqual(digest(given), expected);
}

/**
 * A log line that may be provoked from outside (an observer sending events), rate-limited: the first `first` lines
 * in full, then only a count, told at most once per `everyMs` and when the hub closes.
 */
export class LimitedLog {
  private shown = 0;
  private held = 0;
  private lastCount: number;

  constructor(
    private readonly log: (line: string) => void,
    private readonly first = 10,
    private readonly everyMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.lastCount = now();
  }

  /** One occurrence: logged while fewer than `first` were, else counted. */
  note(line: string): void {
    if (this.shown < this.first) {
      this.shown++;
      this.log(this.shown === this.first ? `${line} (further ones are counted, not logged one by one)` : line);
      this.lastCount = this.now();
      return;
    }
    this.held++;
    if (this.now() - this.lastCount >= this.everyMs) this.flush();
  }

  /** Logs the count of occurrences not logged yet, if any. */
  flush(): void {
    if (this.held > 0) this.log(`observers sent ${this.held} more unexpected event${this.held === 1 ? '' : 's'}; observers are read-only, ignored`);
    this.held = 0;
    this.lastCount = this.now();
  }
}

/** The observer namespace of one coordinator. */
export class ObserverHub {
  private readonly ns: Namespace<Record<string, never>, ObserverEvents>;
  private readonly snapshot: ObserverSnapshot;
  private readonly unexpected: LimitedLog;

  constructor(io: Server, token: string, config: FederatedConfig, secure: boolean, log: (line: string) => void) {
    const scalars: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(config)) {
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') scalars[k] = v;
      // Lists of names (the evaluation attacks) as one line; nested options stay out.
      else if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string')) scalars[k] = v.join(', ');
    }
    this.snapshot = { config: scalars, secure, connected: 0, current: null, rounds: [], finished: false };
    this.unexpected = new LimitedLog(log);
    const expected = digest(token);
    const ns: Namespace<Record<string, never>, ObserverEvents> = io.of('/observer');
    this.ns = ns;
    ns.use((socket, next) => {
      const given: unknown = socket.handshake.auth['token'];
      if (observerTokenMatches(given, expected)) next();
      else next(new HandshakeRefusal('invalid observer token', 'auth'));
    });
    ns.on('connection', (socket) => {
      socket.onAny((event: unknown) => this.unexpected.note(`observer sent '${printable(String(event))}'; observers are read-only, ignored`));
      socket.emit('observe:snapshot', this.snapshot);
    });
  }

  /** The number of connected clients changed. */
  clients(connected: number): void {
    this.snapshot.connected = connected;
    this.ns.emit('observe:clients', { connected });
  }

  /** Round hooks that report to observers, then call `inner`'s. */
  hooks(inner: RoundHooks): RoundHooks {
    return {
      onRoundStart: (round, cohort) => {
        this.snapshot.current = { round, phase: 'train', stage: '', sampled: cohort.length };
        this.ns.emit('observe:round-start', { round, sampled: cohort.length });
        return inner.onRoundStart?.(round, cohort);
      },
      onPhase: (round, phase) => {
        if (this.snapshot.current !== null) this.snapshot.current.phase = phase;
        this.ns.emit('observe:phase', { round, phase: String(phase) });
        inner.onPhase?.(round, phase);
      },
      onRound: (m) => {
        const r = observedRound(m);
        this.snapshot.rounds.push(r);
        this.snapshot.current = null;
        this.ns.emit('observe:round', r);
        return inner.onRound?.(m);
      },
    };
  }

  /** A secure-aggregation stage request went out (told once per change of stage and sum). */
  stage(stage: string, round: number, phase: string): void {
    const name = phase !== '' ? `${stage} (${phase})` : stage;
    if (this.snapshot.current === null || this.snapshot.current.stage === name) return;
    this.snapshot.current.stage = name;
    this.ns.emit('observe:stage', { round, stage: name });
  }

  /** Every round is done. */
  end(rounds: number): void {
    this.snapshot.finished = true;
    this.ns.emit('observe:end', { rounds });
  }

  /** Disconnects every observer (and logs the count of unexpected events not logged yet). */
  close(): void {
    this.unexpected.flush();
    this.ns.disconnectSockets(true);
  }
}

/** A round's summary for observers: counts, loss, evaluation and timings, nothing else. */
export function observedRound(m: RoundMetrics): ObservedRound {
  return {
    round: m.round,
    status: m.status,
    sampled: m.cohort.length,
    trained: m.trained,
    survivors: num(m.survivors),
    dropouts: m.dropouts,
    secaggDropouts: m.secaggDropouts?.length ?? 0,
    trainLoss: num(m.trainLoss),
    eval: numbers(m.eval),
    ms: numbers(m.ms),
  };
}
