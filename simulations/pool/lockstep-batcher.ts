/**
 * Gathers the training tasks of a round's virtual clients into lockstep groups for the GPU training worker
 * (shared/train/lockstep.ts): K clients train in one set of dispatches per step, which on a GPU costs about what one
 * client costs.
 *
 * The virtual clients receive `round:train` over their own sockets, so their tasks arrive one by one within a few
 * milliseconds. A group is sent when no task has joined it for `windowMs` (the round's cohort has arrived), or when
 * it holds `maxClients`. Tasks join a group only where lockstep gives each of them what its own training would:
 * the same model, the same options but the seed (epochs, batch size, learning rate, momentum, shared-set weight) and
 * the same shared set. Each client keeps its own data, seed and starting weights.
 *
 * Ambiguities resolved:
 * - Grouping depends on arrival times, so which clients share a group can differ between two runs. A client's
 *   result does not depend on its group beyond float rounding (test/lockstep.test.ts: a client trained with others
 *   equals it trained alone to 1e-5 of its update).
 * - A group that fails (the GPU worker cannot start, a device error) is not retried on the GPU: the caller's
 *   `onFailure` decides (the pool trains the group's tasks on the CPU workers and stops sending groups).
 */
import { lockstepCoversAdversarial } from '../../shared/train/lockstep.js';
import type { TrainTask } from './tasks.js';

/** Options of a `LockstepBatcher`; times in milliseconds of the injected clock. */
export interface LockstepBatcherOptions<R> {
  /** Trains one group; resolves with one result per task, in the group's order. */
  run: (tasks: TrainTask[]) => Promise<R[]>;
  /** Quiet time after the last arrival before a group is sent (≥ 0; default 25). */
  windowMs?: number;
  /** Most tasks in one group (≥ 1; default 64): a larger cohort is split into groups of at most this many. */
  maxClients?: number;
  /** The clock: calls `fn` after `ms` and returns a cancel function (tests inject their own; default setTimeout). */
  schedule?: (fn: () => void, ms: number) => () => void;
}

interface Pending<R> {
  task: TrainTask;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

interface Group<R> {
  key: string;
  sharedSet: TrainTask['sharedSet'];
  members: Pending<R>[];
  cancel: () => void;
}

const defaultSchedule = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
};

/**
 * Whether lockstep training covers the task: SGD with the shared-set term on the client's own data, with no local
 * adversarial training or EAT's as the default profile crafts it (`lockstepCoversAdversarial`).
 */
export function lockstepEligible(task: TrainTask): boolean {
  return task.poison === undefined && (task.train.adversarial === undefined || lockstepCoversAdversarial(task.train.adversarial));
}

/** What tasks of one group must share: the model and every training option but the seed. */
function groupKey(task: TrainTask): string {
  const { seed: _seed, ...rest } = task.train;
  return JSON.stringify([task.model, rest, task.sharedSet?.labels.length ?? -1]);
}

function sameSharedSet(a: TrainTask['sharedSet'], b: TrainTask['sharedSet']): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.x.length !== b.x.length || a.labels.length !== b.labels.length) return false;
  for (let i = 0; i < a.labels.length; i++) if (a.labels[i] !== b.labels[i]) return false;
  for (let i = 0; i < a.x.length; i++) if (a.x[i] !== b.x[i]) return false;
  return true;
}

/** Collects eligible training tasks into lockstep groups (see the file comment). */
export class LockstepBatcher<R> {
  private readonly open: Group<R>[] = [];
  private readonly windowMs: number;
  private readonly maxClients: number;
  private readonly schedule: (fn: () => void, ms: number) => () => void;
  /** Groups sent, and the tasks in them (for the run's log). */
  readonly sent = { groups: 0, tasks: 0 };

  constructor(private readonly o: LockstepBatcherOptions<R>) {
    this.windowMs = o.windowMs ?? 25;
    this.maxClients = o.maxClients ?? 64;
    if (!(this.windowMs >= 0)) throw new Error(`lockstep batcher: windowMs = ${this.windowMs}; expected a number ≥ 0`);
    if (!Number.isInteger(this.maxClients) || this.maxClients < 1) throw new Error(`lockstep batcher: maxClients = ${this.maxClients}; expected an integer ≥ 1`);
    this.schedule = o.schedule ?? defaultSchedule;
  }

  /** Tasks waiting in groups not yet sent. */
  get waiting(): number {
    return this.open.reduce((a, g) => a + g.members.length, 0);
  }

  /** Adds an eligible task (`lockstepEligible`); resolves with its result once its group has trained. */
  add(task: TrainTask): Promise<R> {
    if (!lockstepEligible(task))
      throw new Error(
        `lockstep batcher: client ${task.client}'s task needs ${task.poison !== undefined ? 'data poisoning' : `${task.train.adversarial!.attack} adversarial training`}, which lockstep training does not cover`,
      );
    return new Promise<R>((resolve, reject) => {
      const key = groupKey(task);
      let g = this.open.find((x) => x.key === key && sameSharedSet(x.sharedSet, task.sharedSet));
      if (g === undefined) {
        g = { key, sharedSet: task.sharedSet, members: [], cancel: () => undefined };
        this.open.push(g);
      }
      g.members.push({ task, resolve, reject });
      g.cancel();
      if (g.members.length >= this.maxClients) this.send(g);
      else {
        const group = g;
        g.cancel = this.schedule(() => this.send(group), this.windowMs);
      }
    });
  }

  /** Sends every open group now (a pool closing, tests). */
  flush(): void {
    for (const g of [...this.open]) this.send(g);
  }

  private send(g: Group<R>): void {
    const i = this.open.indexOf(g);
    if (i < 0) return;
    this.open.splice(i, 1);
    g.cancel();
    this.sent.groups++;
    this.sent.tasks += g.members.length;
    const members = g.members;
    // Through a promise, so that a runner that throws at once still settles every member (never an uncaught throw
    // from a timer).
    Promise.resolve()
      .then(() => this.o.run(members.map((m) => m.task)))
      .then(
        (results) => {
          if (results.length !== members.length) {
            const err = new Error(`lockstep batcher: ${results.length} results for a group of ${members.length}`);
            for (const m of members) m.reject(err);
            return;
          }
          members.forEach((m, k) => m.resolve(results[k]!));
        },
        (err: unknown) => {
          for (const m of members) m.reject(err);
        },
      );
  }
}
