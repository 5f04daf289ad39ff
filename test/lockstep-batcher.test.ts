/**
 * The lockstep batcher (simulations/pool/lockstep-batcher.ts) with an injected clock: which training tasks share a
 * group, when a group is sent, and what its members receive. The GPU side (trainLockstep) is tested in
 * test/lockstep.test.ts and, on a GPU, by test/helpers/gradient-check.ts.
 */
import { expect } from 'chai';
import { LockstepBatcher, lockstepEligible } from '../simulations/pool/lockstep-batcher.js';
import type { TrainTask } from '../simulations/pool/tasks.js';
import { resolveTrainDevice } from '../simulations/engine.js';
import { vulkanMissing } from '../shared/compute/webgpu/backend.js';

/** A clock whose timers fire only when the test advances it. */
class ManualClock {
  now = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  schedule = (fn: () => void, ms: number): (() => void) => {
    const t = { at: this.now + ms, fn, live: true };
    this.timers.push(t);
    return () => {
      t.live = false;
    };
  };
  advance(ms: number): void {
    this.now += ms;
    const due = this.timers.filter((t) => t.live && t.at <= this.now);
    this.timers = this.timers.filter((t) => !due.includes(t));
    for (const t of due) {
      t.live = false;
      t.fn();
    }
  }
}

/** Lets the microtasks run: a group's runner is called from a promise (lockstep-batcher.ts). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const spec = { epochs: 5, batchSize: 64, lr: 0.01, momentum: 0.9, seed: 0, sharedLossWeight: 1 };
const shared = { x: new Float32Array([0.1, 0.2, 0.3, 0.4]), labels: new Uint8Array([3]) };
function task(client: number, over: Partial<TrainTask> = {}): TrainTask {
  return { kind: 'train', client, model: 'cnn-mnist', weights: new Float32Array([client]), train: { ...spec, seed: 100 + client }, sharedSet: shared, ...over };
}

describe('lockstep batcher', () => {
  it('sends the tasks that arrive within the quiet window as one group, and gives each its own result', async () => {
    const clock = new ManualClock();
    const groups: number[][] = [];
    const b = new LockstepBatcher<string>({
      windowMs: 25,
      schedule: clock.schedule,
      run: async (tasks) => {
        groups.push(tasks.map((t) => t.client));
        return tasks.map((t) => `trained ${t.client} with seed ${t.train.seed}`);
      },
    });
    const results = [b.add(task(0)), b.add(task(1))];
    clock.advance(20);
    // A third task 20 ms later restarts the window: nothing is sent yet.
    results.push(b.add(task(2)));
    clock.advance(20);
    await settle();
    expect(groups).to.deep.equal([]);
    expect(b.waiting).to.equal(3);
    clock.advance(5);
    await settle();
    expect(groups).to.deep.equal([[0, 1, 2]]);
    expect(await Promise.all(results)).to.deep.equal(['trained 0 with seed 100', 'trained 1 with seed 101', 'trained 2 with seed 102']);
    expect(b.sent).to.deep.equal({ groups: 1, tasks: 3 });
  });

  it('keeps apart tasks whose model, options or shared set differ, and splits at maxClients', async () => {
    const clock = new ManualClock();
    const groups: number[][] = [];
    const b = new LockstepBatcher<number>({
      windowMs: 10,
      maxClients: 2,
      schedule: clock.schedule,
      run: async (tasks) => {
        groups.push(tasks.map((t) => t.client));
        return tasks.map((t) => t.client);
      },
    });
    const other = { x: new Float32Array([0.1, 0.2, 0.3, 0.5]), labels: new Uint8Array([3]) };
    const all = [
      b.add(task(0)),
      b.add(task(1, { model: 'mlp' })),
      b.add(task(2, { train: { ...spec, seed: 7, lr: 0.02 } })),
      b.add(task(3, { sharedSet: other })),
      b.add(task(4, { sharedSet: { x: shared.x.slice(), labels: shared.labels.slice() } })), // equal content: joins client 0, group full
      b.add(task(5)),
    ];
    await settle();
    expect(groups, 'a group that reaches maxClients leaves at once').to.deep.equal([[0, 4]]);
    clock.advance(10);
    await settle();
    expect(groups).to.deep.equal([[0, 4], [1], [2], [3], [5]]);
    expect(await Promise.all(all)).to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it('refuses tasks lockstep training does not cover, and a failed group fails each of its members', async () => {
    const poisoned = task(0, { poison: { behavior: { kind: 'label-flip' } as never, seed: 1 } });
    const adversarial = task(1, { train: { ...spec, adversarial: { attack: 'pgd', eps: 0.3, steps: 10, loss: 'adv' } } });
    const eatDefault = task(1, { train: { ...spec, adversarial: { attack: 'fgsm', eps: 0.3, loss: 'clean+adv' } } });
    const eatReference = task(1, { train: { ...spec, adversarial: { attack: 'fgsm', eps: 0.3, loss: 'clean+adv', craftMode: 'train', clip: 'batch' } } });
    expect(lockstepEligible(task(2))).to.equal(true);
    expect(lockstepEligible(eatDefault), 'EAT as the default profile crafts it').to.equal(true);
    expect(lockstepEligible(eatReference), "the reference profile's crafting").to.equal(false);
    expect(lockstepEligible(poisoned)).to.equal(false);
    expect(lockstepEligible(adversarial)).to.equal(false);
    const clock = new ManualClock();
    const b = new LockstepBatcher<number>({ schedule: clock.schedule, run: async () => Promise.reject(new Error('device lost')) });
    expect(() => b.add(poisoned)).to.throw(/data poisoning/);
    expect(() => b.add(adversarial)).to.throw(/pgd adversarial training/);
    const a = b.add(task(2));
    const c = b.add(task(3));
    b.flush();
    for (const p of [a, c]) {
      const err = await p.then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.equal('device lost');
    }
  });

  it('a runner that throws at once still fails each member (no uncaught throw from the timer)', async () => {
    const clock = new ManualClock();
    const b = new LockstepBatcher<number>({
      windowMs: 5,
      schedule: clock.schedule,
      run: () => {
        throw new Error('no device');
      },
    });
    const both = [b.add(task(0)), b.add(task(1))];
    clock.advance(5);
    const errs = await Promise.all(
      both.map((p) =>
        p.then(
          () => '',
          (e: Error) => e.message,
        ),
      ),
    );
    expect(errs).to.deep.equal(['no device', 'no device']);
  });

  it('rejects a group whose runner returns the wrong number of results', async () => {
    const clock = new ManualClock();
    const b = new LockstepBatcher<number>({ schedule: clock.schedule, run: async () => [1] });
    const both = [b.add(task(0)), b.add(task(1))];
    b.flush();
    const errs = await Promise.all(
      both.map((p) =>
        p.then(
          () => '',
          (e: Error) => e.message,
        ),
      ),
    );
    expect(errs).to.deep.equal(['lockstep batcher: 1 results for a group of 2', 'lockstep batcher: 1 results for a group of 2']);
    expect(() => new LockstepBatcher<number>({ run: async () => [], maxClients: 0 })).to.throw(/maxClients = 0/);
  });
});

describe('where clients train (resolveTrainDevice)', () => {
  const layerModel = (): void => undefined;
  const functionModel = (): void => {
    throw new Error('lockstep training: model "f" is a function model');
  };
  it("'cpu' is the CPU; 'gpu' and 'auto' take the GPU only where there is one and the model is a layer model", () => {
    expect(resolveTrainDevice('cpu', layerModel)).to.deep.equal({ device: 'cpu' });
    const missing = vulkanMissing();
    if (missing !== undefined) {
      // This machine has no GPU: 'gpu' says why it trains on the CPU, 'auto' quietly does.
      expect(resolveTrainDevice('gpu', layerModel)).to.deep.equal({ device: 'cpu', why: `no GPU for training (${missing})` });
      expect(resolveTrainDevice('auto', layerModel)).to.deep.equal({ device: 'cpu' });
    } else {
      expect(resolveTrainDevice('gpu', layerModel)).to.deep.equal({ device: 'gpu' });
      expect(resolveTrainDevice('auto', layerModel)).to.deep.equal({ device: 'gpu' });
      expect(resolveTrainDevice('auto', functionModel)).to.deep.equal({ device: 'cpu', why: 'lockstep training: model "f" is a function model' });
    }
  });
});
