/**
 * Stage deadlines that expire on an event, not after elapsed time, so a test of timeouts passes on a loaded
 * machine and takes no seconds.
 *
 * The coordinator arms one `setTimeout(onLate, timeoutMs)` per request it sends and clears it when the answer (or
 * a disconnect) comes first. A test that sets a stage's timeout to HELD_MS gets those timers held here instead of
 * scheduled. They expire together once (a) every client that the test knows will not answer has withheld its
 * reply (the test calls `withhold()` from the simulation's `onWithhold` hook, or from a raw client's challenge
 * handler) and (b) only as many held timers remain as such clients: every answering client has then answered,
 * however slowly, so the timers left are exactly the non-answerers'. HELD_MS itself is about 23 days, within
 * setTimeout's range (a larger delay would be clamped to 1 ms): a timer that escaped this helper would never
 * expire during a test, and the test would fail on its own timeout instead of passing by luck.
 */

/** The stage timeout (ms) whose timers are held; use it in the scenario's or the coordinator's `timeoutsMs`. */
export const HELD_MS = 1_999_999_999;

interface HeldTimer {
  callback: () => void;
  ref(): HeldTimer;
  unref(): HeldTimer;
  hasRef(): boolean;
  refresh(): HeldTimer;
}

/** Holds the HELD_MS timers armed while `during` runs; see the header. */
export class HeldDeadlines {
  private readonly pending = new Set<HeldTimer>();
  private withheld = 0;
  /** How many held timers have expired so far. */
  expired = 0;

  /** `silent`: how many clients withhold their reply each time the held stage runs. */
  constructor(private readonly silent: number) {}

  /** A client that will not answer has received its request (its deadline is armed and pending). */
  withhold(): void {
    this.withheld++;
    this.check();
  }

  /** Runs `run` with setTimeout/clearTimeout holding HELD_MS timers; restores them afterwards. */
  async during<T>(run: () => Promise<T>): Promise<T> {
    const realSet = globalThis.setTimeout;
    const realClear = globalThis.clearTimeout;
    const held = (fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]): unknown => {
      if (ms !== HELD_MS) return realSet(fn, ms, ...args);
      const timer: HeldTimer = {
        callback: () => fn(...args),
        ref: () => timer,
        unref: () => timer,
        hasRef: () => false,
        refresh: () => timer,
      };
      this.pending.add(timer);
      this.check();
      return timer;
    };
    const clear = (t: unknown): void => {
      if (this.pending.delete(t as HeldTimer)) this.check();
      else realClear(t as Parameters<typeof clearTimeout>[0]);
    };
    globalThis.setTimeout = held as unknown as typeof setTimeout;
    globalThis.clearTimeout = clear as typeof clearTimeout;
    try {
      return await run();
    } finally {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
      this.pending.clear();
    }
  }

  private check(): void {
    if (this.withheld < this.silent || this.pending.size !== this.silent) return;
    const due = [...this.pending];
    this.pending.clear();
    this.withheld -= this.silent;
    this.expired += due.length;
    // Expire outside the caller's stack (the coordinator's clearTimeout or a client's handler).
    setImmediate(() => {
      for (const t of due) t.callback();
    });
  }
}
