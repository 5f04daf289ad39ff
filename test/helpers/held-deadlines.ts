/**
 * Stage deadlines that pass on an event, not after elapsed time, so a test of timeouts passes on a loaded
 * machine and takes no seconds. Injected into the coordinator (`CoordinatorOptions.deadlines`, or
 * `runSimulation({ deadlines })`) in place of the event loop's timers; nothing global is replaced.
 *
 * The coordinator arms one deadline per request it sends and cancels it when the answer (or a disconnect) comes
 * first. The deadlines of HELD_MS are held here. A client that will not answer says so: the test calls `withhold()`
 * once it has the request (from the simulation's `onWithhold` hook, a raw client's challenge handler, or a test
 * client that decided not to answer). The held deadlines pass together as soon as every one still pending belongs
 * to such a client, that is, when as many are pending as replies are withheld: every answering client has then
 * answered, however slowly, so the deadlines left are exactly the non-answerers'. Any other timeout runs on the
 * real timers (a stage the test does not hold).
 */
import { systemDeadlines, type Deadlines } from '../../shared/engine/clock.js';

/** The stage timeout (ms) whose deadlines are held; use it in the scenario's or the coordinator's `timeoutsMs`. */
export const HELD_MS = 1_999_999_999;

/** Deadlines that hold every HELD_MS one; see the header. */
export class HeldDeadlines implements Deadlines {
  private readonly pending = new Set<() => void>();
  private withheld = 0;
  /** How many held deadlines have passed so far. */
  expired = 0;

  arm(ms: number, onLate: () => void): () => void {
    if (ms !== HELD_MS) return systemDeadlines.arm(ms, onLate);
    // A fresh function per deadline: the set holds each one once, however many share a callback.
    const late = (): void => onLate();
    this.pending.add(late);
    this.check();
    return () => {
      if (this.pending.delete(late)) this.check();
    };
  }

  /** A client that will not answer has received its request (its deadline is armed and pending). */
  withhold(): void {
    this.withheld++;
    this.check();
  }

  private check(): void {
    if (this.pending.size === 0 || this.pending.size !== this.withheld) return;
    const due = [...this.pending];
    this.pending.clear();
    this.withheld = 0;
    this.expired += due.length;
    // Pass outside the caller's stack (the coordinator's cancel or a client's handler).
    setImmediate(() => {
      for (const late of due) late();
    });
  }
}
