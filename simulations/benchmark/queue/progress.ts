/**
 * The submitter's view of a distributed matrix: which cells are done, which are running (on which worker, at which
 * round) and how many wait in the queue, as one line (`queue: 5/16 done, 2 running (a on w1 round 2/3; b on w2
 * starting), 9 queued`).
 */

/** A cell a worker is running. */
export interface RunningCell {
  worker: string;
  round: number;
  rounds: number | undefined;
}

/** Counts and running cells of a distributed matrix. */
export class QueueProgress {
  readonly running = new Map<string, RunningCell>();
  done = 0;
  failed = 0;

  /** `total`: the cells the submitter waits for (finished cells skipped at the start are not counted). */
  constructor(readonly total: number) {}

  get queued(): number {
    return Math.max(0, this.total - this.done - this.failed - this.running.size);
  }

  /** The progress line. */
  line(): string {
    const running = [...this.running]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([id, r]) => `${id} on ${r.worker} ${r.round === 0 || r.rounds === undefined ? 'starting' : `round ${r.round}/${r.rounds}`}`);
    return (
      `queue: ${this.done}/${this.total} done, ${this.running.size} running${running.length > 0 ? ` (${running.join('; ')})` : ''}, ${this.queued} queued` +
      (this.failed > 0 ? `, ${this.failed} failed` : '')
    );
  }
}
