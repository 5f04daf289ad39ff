/**
 * Wall-clock time during which at least one task of a kind was running: with several workers the per-task
 * times overlap, and what a round "spends" on training or on Decent_BVA statistics is the covered span.
 */
export class ActivityClock {
  private active = 0;
  private since = 0;
  private total = 0;

  /** Marks a task started; returns the function that marks it finished. */
  begin(): () => void {
    if (this.active++ === 0) this.since = performance.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.active === 0) this.total += performance.now() - this.since;
    };
  }

  /** Covered milliseconds so far (including the running span). */
  busyMs(): number {
    return this.total + (this.active > 0 ? performance.now() - this.since : 0);
  }
}
