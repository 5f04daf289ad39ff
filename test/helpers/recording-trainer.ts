/**
 * A trainer that records what it trained, for tests that check a secure sum against the plaintext: each round's
 * base weights (the task's) and trained weights go to `dir` as `<client>-r<round>-base.f32` and
 * `-trained.f32`, written before the update leaves the client (so a process killed later has left them).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { TrainOutcome, Trainer, TrainTask } from '../../client/trainer.js';

export class RecordingTrainer implements Trainer {
  constructor(
    private readonly inner: Trainer,
    private readonly clientId: string,
    private readonly dir: string,
  ) {}

  async train(task: TrainTask): Promise<TrainOutcome> {
    const out = await this.inner.train(task);
    writeFileSync(path.join(this.dir, `${this.clientId}-r${task.round}-base.f32`), task.weights);
    writeFileSync(path.join(this.dir, `${this.clientId}-r${task.round}-trained.f32`), out.weights);
    return out;
  }

  bvaInputs(...args: Parameters<Trainer['bvaInputs']>): ReturnType<Trainer['bvaInputs']> {
    return this.inner.bvaInputs(...args);
  }

  endRound(round: number): void {
    this.inner.endRound(round);
  }
}

/** A recorded vector (`kind` base or trained) of a client's round. */
export function recorded(dir: string, clientId: string, round: number, kind: 'base' | 'trained'): Float32Array {
  const b = readFileSync(path.join(dir, `${clientId}-r${round}-${kind}.f32`));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4).slice();
}
