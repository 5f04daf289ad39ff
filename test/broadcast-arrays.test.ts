/**
 * The pool's broadcast arrays (simulations/pool/broadcast-arrays.ts): equal arrays in different objects share one
 * copy in shared memory, and tasks that receive them by reference train exactly as tasks that receive clones.
 */
import { expect } from 'chai';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { partition } from '../shared/data/partition.js';
import { initialWeights, Model, modelSpec } from '../shared/models/model.js';
import { trainLocal } from '../shared/train/sgd.js';
import { batchFromArrays, disposeBatch } from '../shared/train/batches.js';
import { trainOptionsOf } from '../client/trainer.js';
import { BroadcastArrays, compact, MIN_SHARED_LENGTH } from '../simulations/pool/broadcast-arrays.js';
import { destroyIdlePools, SimulationPool } from '../simulations/pool/pool.js';

function filled(n: number, seed: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i));
}

describe('BroadcastArrays', () => {
  it('gives equal arrays in different objects one shared copy, and different arrays their own', () => {
    const b = new BroadcastArrays(4);
    const a = filled(MIN_SHARED_LENGTH, 1);
    const first = b.share(a);
    expect(first.buffer).to.be.instanceOf(SharedArrayBuffer);
    expect(first).to.not.equal(a);
    expect(Array.from(first)).to.deep.equal(Array.from(a));
    expect(b.share(Float32Array.from(a))).to.equal(first);
    const other = filled(MIN_SHARED_LENGTH, 2);
    expect(b.share(other)).to.not.equal(first);
    expect(b.counts).to.deep.equal({ copied: 2, reused: 1 });
    // One value differs in its last bit: not the same array.
    const near = Float32Array.from(a);
    new Uint32Array(near.buffer)[MIN_SHARED_LENGTH - 1]! ^= 1;
    expect(b.share(near)).to.not.equal(first);
    // The caller's array is never written.
    expect(Array.from(a)).to.deep.equal(Array.from(filled(MIN_SHARED_LENGTH, 1)));
  });

  it('compact copies a view of part of a larger buffer (a structured clone would copy all of it), nothing else', () => {
    const whole = filled(64, 1);
    expect(compact(whole)).to.equal(whole);
    const message = new ArrayBuffer(4 * 100);
    const view = new Float32Array(message, 8, 10);
    view.set(filled(10, 2));
    const c = compact(view);
    expect(c).to.not.equal(view);
    expect(c.buffer.byteLength).to.equal(40);
    expect(Array.from(c)).to.deep.equal(Array.from(view));
    const shared = new Float32Array(new SharedArrayBuffer(400), 8, 10);
    expect(compact(shared)).to.equal(shared);
  });

  it('posts small arrays compacted, and arrays already in shared memory as they are', () => {
    const b = new BroadcastArrays();
    const small = filled(MIN_SHARED_LENGTH - 1, 3);
    expect(b.share(small)).to.equal(small);
    const smallView = new Float32Array(new ArrayBuffer(4 * MIN_SHARED_LENGTH), 4, MIN_SHARED_LENGTH - 1);
    expect(b.share(smallView).buffer.byteLength).to.equal(4 * (MIN_SHARED_LENGTH - 1));
    const shared = new Float32Array(new SharedArrayBuffer(4 * MIN_SHARED_LENGTH));
    expect(b.share(shared)).to.equal(shared);
    expect(b.counts).to.deep.equal({ copied: 0, reused: 0 });
  });

  it('keeps the last `capacity` distinct arrays, most recently used first, and forgets all on clear', () => {
    const b = new BroadcastArrays(2);
    const [x, y, z] = [1, 2, 3].map((s) => filled(MIN_SHARED_LENGTH, s));
    const sx = b.share(x!);
    const sy = b.share(y!);
    expect(b.share(Float32Array.from(x!))).to.equal(sx); // x is now the most recent; y the oldest
    b.share(z!); // evicts y
    expect(b.share(Float32Array.from(x!))).to.equal(sx);
    expect(b.share(Float32Array.from(y!))).to.not.equal(sy);
    b.clear();
    expect(b.share(Float32Array.from(x!))).to.not.equal(sx);
    expect(() => new BroadcastArrays(0)).to.throw(/capacity 0/);
  });
});

describe('the pool posts broadcast arrays by reference', function () {
  this.timeout(240000);
  const data = makeSyntheticDataset({ count: 240, testCount: 40, seed: 11 });
  before(async () => {
    await initBackend({ quiet: true });
    await destroyIdlePools();
  });
  after(async () => {
    await destroyIdlePools();
  });

  it('clients given equal weights and shared set in separate arrays share one copy, and train as in this thread', async () => {
    const spec = modelSpec('mlp', [data.train.height, data.train.width, data.train.channels], data.train.numClasses);
    const weights = initialWeights(spec, 3);
    expect(weights.length).to.be.greaterThan(MIN_SHARED_LENGTH);
    const d = data.train.height * data.train.width * data.train.channels;
    const sharedX = Float32Array.from(data.train.images.subarray(0, 16 * d));
    const sharedSet = () => ({ x: Float32Array.from(sharedX), labels: Uint8Array.from(data.train.labels.subarray(0, 16)) });
    const train = { epochs: 1, batchSize: 16, lr: 0.05, momentum: 0.9, seed: 5, sharedLossWeight: 1 };
    const parts = partition(data.train.labels, { kind: 'iid' }, 3, 1);
    // The workers load this thread's backend, whichever earlier tests left, so the two trainings compare bit for bit.
    const pool = new SimulationPool({ train: data.train, test: data.test, parts, workers: 2, backend: tf.getBackend() });
    try {
      const task = (client: number) => ({ client, model: 'mlp', weights: Float32Array.from(weights), sharedSet: sharedSet(), train });
      const [a, b, c] = await Promise.all([pool.train(task(0)), pool.train(task(0)), pool.train(task(1))]);
      // Weights and shared set copied once each; the other two tasks reused both.
      expect(pool.broadcast.counts).to.deep.equal({ copied: 2, reused: 4 });
      expect(Buffer.from(a.weights.buffer).equals(Buffer.from(b.weights.buffer))).to.equal(true);
      expect(Buffer.from(a.weights.buffer).equals(Buffer.from(c.weights.buffer))).to.equal(false);
      // The same training in this thread, from the caller's own arrays, gives the same bits.
      const model = new Model(spec, Float32Array.from(weights));
      const shared = batchFromArrays(sharedX, Uint8Array.from(data.train.labels.subarray(0, 16)), data.train);
      try {
        trainLocal(model, data.train, parts[0]!, trainOptionsOf(train, shared));
        expect(Buffer.from(model.getWeights().buffer).equals(Buffer.from(a.weights.buffer))).to.equal(true);
      } finally {
        disposeBatch(shared);
        model.dispose();
      }
    } finally {
      await pool.close();
    }
  });
});
