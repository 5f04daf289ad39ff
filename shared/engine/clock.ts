/**
 * Time, injected. The round engine's clock is read only by measurements (the `ms` of a round's metrics): no result
 * of a round depends on it. The deadlines are the transport's stage timeouts (a client that does not answer in
 * time is a dropout): tests inject deadlines that pass when the test says, never after elapsed wall-clock time, so
 * a result cannot depend on how loaded the machine is (test/helpers/held-deadlines.ts).
 */

/** A monotonic millisecond clock. */
export interface Clock {
  now(): number;
}

/** `performance.now()`. */
export const systemClock: Clock = { now: () => performance.now() };

/** Stage deadlines: the transport's timeouts (socket-ack.ts), injected so that tests decide when one passes. */
export interface Deadlines {
  /** Calls `onLate` once `ms` milliseconds have passed, unless the returned cancel is called first. */
  arm(ms: number, onLate: () => void): () => void;
}

/** Deadlines on the event loop's timers (`setTimeout`). */
export const systemDeadlines: Deadlines = {
  arm(ms, onLate) {
    const timer = setTimeout(onLate, ms);
    return () => clearTimeout(timer);
  },
};
