/**
 * The round engine's clock. Only measurements (the `ms` of a round's metrics) read it: no result of a round
 * depends on the time, and timeouts belong to the transport. Tests inject a fixed or stepping clock.
 */

/** A monotonic millisecond clock. */
export interface Clock {
  now(): number;
}

/** `performance.now()`. */
export const systemClock: Clock = { now: () => performance.now() };
