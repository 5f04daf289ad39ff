/**
 * The rule state in a checkpoint (format 3; server/rule-state-codec.ts, server/run-store.ts): centered clipping's
 * centre and FoolsGold's per-client Float64 histories round-trip bit for bit through the checksummed binary
 * body, described (not stored) by the header; formats 1 and 2 still load, without rule state; and every way a
 * stored state can be wrong (a kind the configured rule does not keep, a length that is not the model's, a
 * client twice, a non-finite value, a short or long body, a header that contradicts its format) is a
 * CheckpointError naming the file and the problem. The resumed runs themselves are in rule-state-resume.test.ts.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointError, readCheckpoint, RunStore, type Checkpoint } from '../server/run-store.js';
import type { AggregationState } from '../server/rule-state-codec.js';
import { checkRuleState } from '../server/resume-check.js';
import { Coordinator } from '../server/coordinator.js';
import { resolveAggregation } from '../shared/federated/aggregation.js';
import { resolveConfig } from '../shared/federated/config.js';
import { initialWeights, modelSpec } from '../shared/models/model.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { initBackend } from '../shared/compute/backend.js';
import { rewriteCheckpoint, toFormat1, toFormat2 } from './helpers/checkpoint-files.js';

const D = 10;
const config = resolveConfig({ method: 'fedavg', numClients: 3, fraction: 1, rounds: 5, seed: 1 });
const base = (ruleState?: AggregationState | null): Checkpoint => ({
  round: 2,
  weights: Float32Array.from({ length: D }, (_, i) => i / 8),
  shared: new Float32Array(4).fill(0.25),
  config,
  runId: new Uint8Array(16).fill(7),
  ...(ruleState !== undefined ? { ruleState } : {}),
});

/** Values a JSON detour or a float32 would change: subnormals, −0, large magnitudes, 1/3. */
const awkward = (k: number): Float64Array => Float64Array.from({ length: D }, (_, i) => [5e-324, -0, 1e300, 1 / 3, -2.5e-310][(i + k) % 5]! * (k + 1));
const foolsgold = (ids: string[]): AggregationState => ({ at: 'rule', kind: 'foolsgold', state: { kind: 'foolsgold', history: new Map(ids.map((id, k) => [id, awkward(k)])) } });
const centre = Float32Array.from({ length: D }, (_, i) => (i - 4.5) / 7);
const centered = (at: 'rule' | 'across' = 'rule'): AggregationState => ({ at, kind: 'centered-clipping', state: { kind: 'centered-clipping', center: centre } });

const bits = (a: Float32Array | Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

describe('rule state in checkpoints (format 3)', () => {
  const saved = (c: Checkpoint): RunStore => {
    const s = new RunStore(mkdtempSync(path.join(os.tmpdir(), 'rfl-rulestate-')));
    s.saveCheckpoint(c);
    return s;
  };
  /** The CheckpointError's problem (its message after "<file>: "), or 'accepted'. */
  const problem = (file: string, read: () => unknown = () => readCheckpoint(file)): string => {
    try {
      read();
    } catch (err) {
      expect(err, (err as Error).stack).to.be.instanceOf(CheckpointError);
      expect((err as Error).message.startsWith(`${file}: `), (err as Error).message).to.equal(true);
      return (err as Error).message.slice(file.length + 2);
    }
    return 'accepted';
  };
  const header = (file: string): Record<string, unknown> => {
    const buf = readFileSync(file);
    const content = buf.subarray(buf.indexOf(0x0a) + 1);
    return JSON.parse(content.subarray(0, content.indexOf(0x0a)).toString()) as Record<string, unknown>;
  };

  describe('round trip', () => {
    it("FoolsGold's histories come back bit for bit, in binary, described by client id, dtype and length", () => {
      const ids = ['c0002', 'c0000', 'sybil "7"'];
      const s = saved(base(foolsgold(ids)));
      const c = readCheckpoint(s.checkpointPath());
      expect(c.format).to.equal(3);
      expect(c.ruleState!.at).to.equal('rule');
      expect(c.ruleState!.kind).to.equal('foolsgold');
      const got = c.ruleState!.state;
      expect(got?.kind).to.equal('foolsgold');
      if (got?.kind !== 'foolsgold') return;
      expect([...got.history.keys()]).to.deep.equal(ids);
      ids.forEach((id, k) => expect(bits(got.history.get(id)!), id).to.equal(bits(awkward(k))));
      expect(header(s.checkpointPath())['ruleState']).to.deep.equal({ at: 'rule', kind: 'foolsgold', history: { dtype: 'float64', length: D, clients: ids } });
      // The body is binary: weights and shared set as float32, then 3 · D float64, nothing as JSON numbers.
      const file = readFileSync(s.checkpointPath());
      const headerEnd = file.indexOf(0x0a, file.indexOf(0x0a) + 1) + 1;
      expect(file.byteLength - headerEnd).to.equal(4 * (D + 4) + 8 * D * 3);
      expect(bits(c.weights)).to.equal(bits(base().weights));
    });

    it("centered clipping's centre comes back bit for bit, as the rule's or as the rule across groups", () => {
      for (const at of ['rule', 'across'] as const) {
        const c = readCheckpoint(saved(base(centered(at))).checkpointPath());
        expect(c.ruleState!.at).to.equal(at);
        expect(c.ruleState!.state?.kind).to.equal('centered-clipping');
        if (c.ruleState!.state?.kind === 'centered-clipping') expect(bits(c.ruleState!.state.center)).to.equal(bits(centre));
      }
    });

    it('no state yet, and an aggregation that keeps none, are told apart', () => {
      const none = saved(base(null));
      expect(readCheckpoint(none.checkpointPath()).ruleState).to.equal(null);
      expect(header(none.checkpointPath())['ruleState']).to.equal(null);
      // A checkpoint written without a rule state (as the existing tests' helpers do) says the aggregation keeps none.
      expect(readCheckpoint(saved(base()).checkpointPath()).ruleState).to.equal(null);
      for (const empty of [
        { at: 'rule', kind: 'centered-clipping', state: undefined },
        { at: 'across', kind: 'centered-clipping', state: undefined },
        { at: 'rule', kind: 'foolsgold', state: undefined },
        { at: 'rule', kind: 'foolsgold', state: { kind: 'foolsgold', history: new Map() } },
      ] satisfies AggregationState[]) {
        const c = readCheckpoint(saved(base(empty)).checkpointPath());
        expect(c.ruleState, JSON.stringify(empty)).to.deep.equal({ at: empty.at, kind: empty.kind, state: undefined });
      }
    });

    it('formats 2 and 1 still load, with no rule state (undefined, not null: it was not saved)', () => {
      for (const [format, convert] of [
        [2, toFormat2],
        [1, toFormat1],
      ] as const) {
        const s = saved(base(foolsgold(['a', 'b'])));
        convert(s.checkpointPath());
        const c = readCheckpoint(s.checkpointPath());
        expect(c.format).to.equal(format);
        expect(c.ruleState).to.equal(undefined);
        expect(c.round).to.equal(2);
        expect(bits(c.weights)).to.equal(bits(base().weights));
        expect(Array.from(c.shared!)).to.deep.equal([0.25, 0.25, 0.25, 0.25]);
      }
    });
  });

  describe('validation', () => {
    it('refuses a malformed description, a wrong length, a client twice, non-finite values and a body of the wrong size', () => {
      type Edit = (h: Record<string, unknown>, b: Buffer) => Buffer | void;
      const rs = (h: Record<string, unknown>): Record<string, unknown> => h['ruleState'] as Record<string, unknown>;
      const history = (h: Record<string, unknown>): Record<string, unknown> => rs(h)['history'] as Record<string, unknown>;
      const stateAt = 4 * (D + 4); // the rule state follows the weights and the shared set
      const cases: [string, () => AggregationState, Edit, RegExp][] = [
        ['unknown kind', () => centered(), (h) => void (rs(h)['kind'] = 'krum'), /^header field "ruleState\.kind": /],
        ['FoolsGold across groups', () => foolsgold(['a']), (h) => void (rs(h)['at'] = 'across'), /^header field "ruleState\.at": /],
        ['FoolsGold as float32', () => foolsgold(['a']), (h) => void (history(h)['dtype'] = 'float32'), /^header field "ruleState\.history\.dtype": /],
        ['empty client id', () => foolsgold(['a']), (h) => void (history(h)['clients'] = ['']), /^header field "ruleState\.history\.clients\.0": /],
        ['length 0', () => centered(), (h) => void ((rs(h)['center'] as Record<string, unknown>)['length'] = 0), /^header field "ruleState\.center\.length": /],
        [
          'history shorter than the model',
          () => foolsgold(['a', 'b']),
          (h, b) => {
            history(h)['length'] = 4;
            return b.subarray(0, stateAt + 8 * 4 * 2);
          },
          /^rule state: header field "ruleState\.history\.length": 4 coordinates, but the model has 10 weights$/,
        ],
        [
          'centre longer than the model',
          () => centered(),
          (h, b) => {
            (rs(h)['center'] as Record<string, unknown>)['length'] = 12;
            return Buffer.concat([b, Buffer.alloc(8)]);
          },
          /^rule state: header field "ruleState\.center\.length": 12 coordinates, but the model has 10 weights$/,
        ],
        ['a client twice', () => foolsgold(['a', 'b']), (h) => void (history(h)['clients'] = ['a', 'a']), /^rule state: client "a" has two FoolsGold histories$/],
        [
          'NaN in a history',
          () => foolsgold(['a', 'b']),
          (_h, b) => void b.writeDoubleLE(NaN, stateAt + 8 * D + 8 * 3),
          /^rule state: coordinate 3 of the FoolsGold history of client "b" is NaN: a checkpoint holds finite values only$/,
        ],
        [
          '−Infinity in the centre',
          () => centered(),
          (_h, b) => void b.writeFloatLE(-Infinity, stateAt + 4 * 9),
          /^rule state: coordinate 9 of the centered-clipping centre is -Infinity: a checkpoint holds finite values only$/,
        ],
        [
          'a history cut short',
          () => foolsgold(['a', 'b']),
          (_h, b) => b.subarray(0, b.byteLength - 8),
          /^truncated: 208 bytes of data for 10 weights and 4 shared-set values and 2 FoolsGold histories of 10 float64, which take 216$/,
        ],
        [
          'a history too many',
          () => foolsgold(['a', 'b']),
          (h) => void (history(h)['clients'] = ['a']),
          /^trailing bytes: 216 bytes of data for 10 weights and 4 shared-set values and 1 FoolsGold history of 10 float64, which take 136$/,
        ],
        ['a centre the header does not describe', () => centered(), (h) => void (rs(h)['center'] = null), /^trailing bytes: 96 bytes of data for 10 weights and 4 shared-set values, which take 56$/],
        ['format 3 without ruleState', () => centered(), (h) => void delete h['ruleState'], /^header field "ruleState": required in format 3 \(null when the aggregation keeps no state\)$/],
        [
          'header of another format',
          () => centered(),
          (h) => void (h['format'] = 'robust-fl-checkpoint/2'),
          /^header field "format": robust-fl-checkpoint\/2 in a file whose first line says robust-fl-checkpoint\/3$/,
        ],
      ];
      for (const [name, state, edit, expected] of cases) {
        const s = saved(base(state()));
        rewriteCheckpoint(s.checkpointPath(), edit);
        expect(problem(s.checkpointPath()), name).to.match(expected);
      }
      // A format 2 file has no rule state to describe.
      const s = saved(base(null));
      toFormat2(s.checkpointPath());
      rewriteCheckpoint(s.checkpointPath(), (h) => void (h['ruleState'] = null));
      expect(problem(s.checkpointPath())).to.equal('header field "ruleState": not part of format robust-fl-checkpoint/2');
    });

    it('a FoolsGold history of a huge but finite magnitude is kept: a Byzantine client must not make the run unresumable', () => {
      const huge: AggregationState = { at: 'rule', kind: 'foolsgold', state: { kind: 'foolsgold', history: new Map([['byz', new Float64Array(D).fill(-1e300)]]) } };
      const c = readCheckpoint(saved(base(huge)).checkpointPath());
      expect(c.ruleState!.state?.kind === 'foolsgold' && c.ruleState!.state.history.get('byz')![0]).to.equal(-1e300);
    });

    it('a state must belong to the configured aggregation: the same stateful rule in the same place, or none on both sides', () => {
      const cohort = { secure: false, cohortSize: 6 };
      const rule = (r: unknown, secure = false) => resolveAggregation(r, { ...cohort, secure });
      const file = '/runs/x/checkpoint.bin';
      const groupedCc = rule({ rule: 'grouped', groups: 2, across: { rule: 'centered-clipping' } }, true);
      const cases: [AggregationState | null, ReturnType<typeof rule>, string][] = [
        [foolsgold(['a']), rule({ rule: 'foolsgold' }), 'accepted'],
        [centered(), rule({ rule: 'centered-clipping', pre: ['bucketing'] }), 'accepted'],
        [centered('across'), groupedCc, 'accepted'],
        [null, rule({ rule: 'krum', f: 1 }), 'accepted'],
        [null, rule({ rule: 'grouped', groups: 2, across: 'median' }, true), 'accepted'],
        [
          foolsgold(['a']),
          rule({ rule: 'centered-clipping' }),
          "it holds the state of 'foolsgold' (the aggregation rule), but the configured aggregation keeps that of 'centered-clipping' (the aggregation rule): resume with the aggregation the run was started with",
        ],
        [
          centered(),
          groupedCc,
          "it holds the state of 'centered-clipping' (the aggregation rule), but the configured aggregation keeps that of 'centered-clipping' (the rule across the group means): resume with the aggregation the run was started with",
        ],
        [
          centered(),
          rule({ rule: 'median' }),
          "it holds the state of 'centered-clipping' (the aggregation rule), but the configured aggregation 'median' keeps no state across rounds: resume with the aggregation the run was started with",
        ],
        [
          null,
          rule({ rule: 'foolsgold' }),
          "it was written by a run whose aggregation keeps no state across rounds, but the configured 'foolsgold' (the aggregation rule) does: resume with the aggregation the run was started with",
        ],
      ];
      for (const [stored, aggregation, expected] of cases) {
        expect(
          problem(file, () => checkRuleState(file, stored, aggregation)),
          `${stored?.kind ?? 'none'} → ${JSON.stringify(aggregation)}`,
        ).to.equal(expected);
      }
    });

    it('the coordinator refuses to resume a checkpoint whose rule state is not its rule’s, before any round', async () => {
      await initBackend({ backend: 'wasm', quiet: true });
      const data = makeSyntheticDataset({ count: 60, testCount: 10, height: 4, width: 4, seed: 1 });
      const federated = { method: 'fedavg', model: 'linear', numClients: 3, fraction: 1, rounds: 5, seed: 1, sharedSetSize: 8 };
      const spec = modelSpec('linear', [4, 4, 1], 10);
      const s = new RunStore(mkdtempSync(path.join(os.tmpdir(), 'rfl-rulestate-')));
      const history = new Map([['c0000', new Float64Array(spec.numParams).fill(0.5)]]);
      s.saveCheckpoint({
        round: 2,
        weights: initialWeights(spec, 1),
        shared: undefined,
        config: resolveConfig(federated),
        runId: new Uint8Array(16),
        ruleState: { at: 'rule', kind: 'foolsgold', state: { kind: 'foolsgold', history } },
      });
      const open =
        (aggregation: unknown): (() => Coordinator) =>
        () =>
          new Coordinator({ federated, data, secure: false, aggregation, tokens: new Set(['t']), runDir: s.dir, resume: true, log: () => undefined });
      expect(problem(s.checkpointPath(), open({ rule: 'centered-clipping' }))).to.match(
        /^it holds the state of 'foolsgold' \(the aggregation rule\), but the configured aggregation keeps that of 'centered-clipping'/,
      );
      // Without --aggregation a resumed CLI run would be the mean: refused too, rather than dropping the histories.
      expect(problem(s.checkpointPath(), open(undefined))).to.match(/configured aggregation 'mean' keeps no state across rounds/);
      const resumed = open({ rule: 'foolsgold' })();
      expect(resumed.completedRounds).to.equal(2);
      await resumed.close();
    });
  });
});
