/**
 * Says, in one line each way, when Redis stops answering and when it answers again. BullMQ and ioredis reconnect
 * by themselves after a Redis restart, and a TCP connection outlives a short network cut, so the run needs no help
 * to continue; what it lacks is a message: a restart shows only as a stream of connection errors, and a cut
 * network shows as nothing at all (the commands simply wait). So a PING (a GET of `LINK_CHECK_KEY`) goes out on the connection every
 * `intervalMs`, one at a time; once none has been answered for `lostAfterMs`, the link is reported lost (with the
 * last connection error seen, if any), and the first answer after that reports it back, calling `onBack` (the
 * submitter then re-checks its cells: a Redis restarted without its data has forgotten their jobs).
 *
 * The clock and the timer are injected, so the test drives both (test/queue-link-monitor.test.ts).
 */

/**
 * The key the monitor reads as its round trip (BullMQ's client interface has no PING; a GET of a key nobody writes
 * is as cheap, and answers null).
 */
export const LINK_CHECK_KEY = 'rfl:link-check';

/** The clock and timer the monitor uses (the system's by default). */
export interface MonitorClock {
  now(): number;
  every(ms: number, tick: () => void): { stop(): void };
}

const systemClock: MonitorClock = {
  now: () => Date.now(),
  every: (ms, tick) => {
    // unref: a monitor alone never keeps the process alive.
    const t = setInterval(tick, ms).unref();
    return { stop: () => clearInterval(t) };
  },
};

/** Options of a `LinkMonitor`. */
export interface LinkMonitorOptions {
  /** Sends one PING; resolves when Redis answers (it may wait through a reconnection). */
  ping: () => Promise<unknown>;
  /** What the messages call the server, e.g. `redis://10.0.0.1:6379`. */
  target: string;
  /** No answer for this long: the link is reported lost. */
  lostAfterMs: number;
  /** Time between PINGs (default: a quarter of `lostAfterMs`, at least 100 ms). */
  intervalMs?: number;
  /** Where the two messages go. */
  log: (line: string) => void;
  /** Called when Redis answers again after being reported lost. */
  onBack?: () => void;
  clock?: MonitorClock;
}

/** Watches one Redis connection; `start()` it, `stop()` it. */
export class LinkMonitor {
  private lastAnswer: number;
  private lostSince: number | undefined;
  private pending = false;
  private lastError: string | undefined;
  private timer: { stop(): void } | undefined;
  private readonly clock: MonitorClock;

  constructor(private readonly opts: LinkMonitorOptions) {
    this.clock = opts.clock ?? systemClock;
    this.lastAnswer = this.clock.now();
  }

  /** Whether the link is reported lost now. */
  get lost(): boolean {
    return this.lostSince !== undefined;
  }

  /** Starts the PINGs. */
  start(): void {
    this.lastAnswer = this.clock.now();
    this.timer ??= this.clock.every(this.opts.intervalMs ?? Math.max(100, this.opts.lostAfterMs / 4), () => this.tick());
  }

  stop(): void {
    this.timer?.stop();
    this.timer = undefined;
  }

  /**
   * A connection error seen by any client of this Redis (BullMQ's `error` events): named in the lost message.
   * Returns whether the caller should print it itself (no: while the link is reported lost, the errors are what
   * the lost message already says).
   */
  noteError(err: Error): boolean {
    this.lastError = err.message;
    return !this.lost;
  }

  private tick(): void {
    const now = this.clock.now();
    if (this.lostSince === undefined && now - this.lastAnswer >= this.opts.lostAfterMs) {
      this.lostSince = this.lastAnswer;
      const why = this.lastError !== undefined ? ` (last error: ${this.lastError})` : ' (no error: the network may be cut, or Redis is stopped)';
      this.opts.log(`queue: no answer from ${this.opts.target} for ${seconds(now - this.lastAnswer)}${why}; waiting for it to come back: the run continues then, and nothing is lost meanwhile`);
    }
    if (this.pending) return;
    this.pending = true;
    this.opts.ping().then(
      () => {
        this.pending = false;
        const at = this.clock.now();
        this.lastAnswer = at;
        if (this.lostSince !== undefined) {
          const gone = at - this.lostSince;
          this.lostSince = undefined;
          this.lastError = undefined;
          this.opts.log(`queue: ${this.opts.target} answers again after ${seconds(gone)} without; continuing`);
          this.opts.onBack?.();
        }
      },
      (err: unknown) => {
        // A failed PING (a closed connection that gave up the command) is no answer; the next tick tries again.
        this.pending = false;
        this.lastError = (err as Error).message;
      },
    );
  }
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}
