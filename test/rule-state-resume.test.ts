/**
 * Stateful robust rules resume exactly: a coordinator stopped after round 2 of 4 and resumed from its run
 * directory ends with the same final weights, bit for bit, as an uninterrupted run, for FoolsGold (per-client
 * histories), centered clipping after bucketing (the centre; bucketing's seeded shuffle), and centered clipping
 * across the group means of grouped secure aggregation. The real coordinator and client sessions over socket.io
 * (test/helpers/federation.ts), softmax regression on small synthetic images.
 *
 * Each case also resumes the same stopped run from its checkpoint rewritten in format 2, which held no rule state:
 * that run logs that the rule starts afresh and ends on other weights. So the bit-for-bit equality depends on the
 * restored state, and this test fails without it (checked by disabling `restoreRuleState` in server/coordinator.ts:
 * every case then failed its equality).
 */
import { expect } from 'chai';
import { cpSync, mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type nacl from 'tweetnacl';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { readCheckpoint } from '../server/run-store.js';
import { startFederation } from './helpers/federation.js';
import { toFormat2 } from './helpers/checkpoint-files.js';

const data = makeSyntheticDataset({ count: 240, testCount: 20, height: 8, width: 8, cells: 4, seed: 3 });
const ROUNDS = 4;
const STOP_AFTER = 2;
const federated = {
  method: 'fedavg',
  model: 'linear',
  numClients: 6,
  fraction: 1,
  rounds: ROUNDS,
  localEpochs: 1,
  batchSize: 16,
  lr: 0.1,
  sharedSetSize: 8,
  evalEvery: ROUNDS,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: 5,
};

interface Part {
  weights: Float32Array;
  rounds: number;
  keys: nacl.SignKeyPair[];
  log: string[];
}

/** Runs the federation in `runDir` (resuming it if asked), stopping after round `stopAfter` if given. */
async function part(aggregation: unknown, secure: boolean, runDir: string, opts: { resume?: boolean; keys?: nacl.SignKeyPair[]; stopAfter?: number } = {}): Promise<Part> {
  const log: string[] = [];
  const f = await startFederation(data, federated, { runDir, aggregation, secure, resume: opts.resume === true, log: (l) => log.push(l) }, true, opts.keys);
  try {
    // Closing the coordinator in the round hook stops the engine after the round's checkpoint, before the next round.
    await f.coordinator.run({ onRound: (m) => void (m.round === opts.stopAfter ? f.coordinator.close() : undefined) });
    return { weights: f.coordinator.globalWeights(), rounds: f.coordinator.completedRounds, keys: f.keys, log };
  } finally {
    await f.close();
  }
}

const bits = (a: Float32Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');
const tmp = (name: string): string => path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-rulestate-resume-')), name);

const cases: { name: string; aggregation: unknown; secure: boolean; at: 'rule' | 'across'; kind: string }[] = [
  { name: 'FoolsGold', aggregation: { rule: 'foolsgold' }, secure: false, at: 'rule', kind: 'foolsgold' },
  { name: 'centered clipping after bucketing', aggregation: { rule: 'centered-clipping', tau: 0.05, pre: [{ name: 'bucketing', s: 2 }] }, secure: false, at: 'rule', kind: 'centered-clipping' },
  {
    name: 'centered clipping across the groups of grouped secure aggregation',
    aggregation: { rule: 'grouped', groups: 2, across: { rule: 'centered-clipping', tau: 0.05 } },
    secure: true,
    at: 'across',
    kind: 'centered-clipping',
  },
];

describe('stateful robust rules: stopped after round 2 and resumed from the checkpoint, bit-identical to an uninterrupted run', function () {
  this.timeout(240000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  for (const c of cases) {
    it(c.name, async () => {
      const whole = await part(c.aggregation, c.secure, tmp('whole'));
      expect(whole.rounds).to.equal(ROUNDS);

      const runDir = tmp('stopped');
      const first = await part(c.aggregation, c.secure, runDir, { stopAfter: STOP_AFTER });
      expect(first.rounds).to.equal(STOP_AFTER);
      const stored = readCheckpoint(path.join(runDir, 'checkpoint.bin'));
      expect(stored.round).to.equal(STOP_AFTER);
      expect(stored.ruleState?.at).to.equal(c.at);
      expect(stored.ruleState?.kind).to.equal(c.kind);
      expect(stored.ruleState?.state, 'the rule has state after two rounds').to.not.equal(undefined);
      // The control's copy, taken before the resumed run writes on.
      const old = tmp('format2');
      cpSync(runDir, old, { recursive: true });
      toFormat2(path.join(old, 'checkpoint.bin'));

      const resumed = await part(c.aggregation, c.secure, runDir, { resume: true, keys: first.keys });
      expect(resumed.rounds).to.equal(ROUNDS);
      expect(bits(resumed.weights), 'final weights of the resumed run').to.equal(bits(whole.weights));

      const fresh = await part(c.aggregation, c.secure, old, { resume: true, keys: first.keys });
      expect(fresh.rounds).to.equal(ROUNDS);
      expect(fresh.log).to.include(`the checkpoint is format 2, which holds no rule state: '${c.kind}' starts with no state from earlier rounds (as at round 1)`);
      expect(bits(fresh.weights), 'a resume without the rule state ends elsewhere').to.not.equal(bits(whole.weights));
    });
  }
});
