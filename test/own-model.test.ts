/**
 * "Your own model and data" (docs/own-model.md) end to end: the example of examples/own-model (a CNN defined as
 * a function over weights, a folder of PNGs with labels.csv, a registered corrupted-client behaviour) runs
 * through loadScenario with the overrides the CLI's --model, --data and --extension become, then runSimulation
 * with one worker, in plaintext and with secure aggregation; and every bad input is refused with an error that
 * names the field or the file and row.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pngjs from 'pngjs';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../shared/compute/backend.js';
import { DataError, loadDataset, loadDatasetAsync, type DatasetSplit } from '../shared/data/index.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { ConfigError } from '../shared/federated/errors.js';
import { Model, initialWeights, modelSpec } from '../shared/models/model.js';
import { registerModel } from '../shared/models/registry.js';
import { loadModelModule } from '../shared/models/module-loader.js';
import { lossInputGradient } from '../shared/attacks/input-gradient.js';
import { behaviorImplementation, registerBehavior, type BehaviorImplementation } from '../simulations/behaviors/registry.js';
import { loadExtensions } from '../simulations/extensions.js';
import { loadScenario, loadScenarioAsync, prepareScenario, resolveScenario } from '../simulations/scenario.js';
import { runSimulation, type SimRoundRecord, type SimulationResult } from '../simulations/engine.js';

const EXAMPLE = 'examples/own-model';
const MODEL = `${EXAMPLE}/my-model.js`;
const DATA = `${EXAMPLE}/my-data`;
const BEHAVIOR = `${EXAMPLE}/my-behavior.js`;

const tmpDir = (): string => mkdtempSync(path.join(os.tmpdir(), 'rfl-own-'));

/** A scenario file as a user would write it, before the CLI's overrides. */
function scenarioFile(extra = ''): string {
  const file = path.join(tmpDir(), 'own.yaml');
  writeFileSync(
    file,
    [
      'name: own-model',
      'method: fedavg',
      'numClients: 4',
      'fraction: 1',
      'rounds: 2',
      'localEpochs: 2',
      'batchSize: 16',
      'lr: 0.05',
      'momentum: 0.9',
      'sharedSetSize: 16',
      'evalEvery: 1',
      'evalAttacks: [clean]',
      'finalAttacks: [clean, fgsm]',
      'seed: 3',
      'workers: 1',
      extra,
    ].join('\n') + '\n',
  );
  return file;
}

/** The overrides `rfl simulate --model M --data D --extension E` passes to loadScenario. */
const cliOverrides = (more: string[] = []): string[] => [`model=${MODEL}`, `dataset=${DATA}`, `extensions=${JSON.stringify([BEHAVIOR])}`, ...more];

const CORRUPTED = 'corrupted.behavior={kind: noisy-scale, factor: 1.5, sigma: 0.0001}';

async function simulate(overrides: string[]): Promise<{ result: SimulationResult; rounds: SimRoundRecord[] }> {
  const rounds: SimRoundRecord[] = [];
  const scenario = loadScenario(scenarioFile(), overrides);
  const result = await runSimulation({ scenario, runDir: path.join(tmpDir(), 'run'), gpuEval: false, onRound: (r) => rounds.push(r), log: () => undefined });
  return { result, rounds };
}

function writePng(file: string, width: number, height: number, rgb: boolean, value = 128): void {
  const channels = rgb ? 3 : 1;
  const data = Buffer.alloc(width * height * channels, value);
  writeFileSync(file, pngjs.PNG.sync.write({ width, height, data }, { colorType: rgb ? 2 : 0, inputHasAlpha: false }));
}

/** A train/test image folder with the given rows; returns its directory. */
function imageFolder(train: string[], test: string[], images: Record<string, [number, number, boolean]>): string {
  const dir = tmpDir();
  for (const [split, rows] of [
    ['train', train],
    ['test', test],
  ] as const) {
    mkdirSync(path.join(dir, split));
    writeFileSync(path.join(dir, split, 'labels.csv'), ['file,label', ...rows].join('\n') + '\n');
    for (const [file, [w, h, rgb]] of Object.entries(images)) writePng(path.join(dir, split, file), w, h, rgb);
  }
  return dir;
}

function expectDataError(fn: () => unknown, ...patterns: RegExp[]): DataError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(DataError);
    for (const p of patterns) expect((err as Error).message).to.match(p);
    return err as DataError;
  }
  throw new Error('expected a DataError');
}

async function expectConfigError(p: Promise<unknown> | (() => unknown), fields: string[], ...patterns: RegExp[]): Promise<ConfigError> {
  try {
    if (typeof p === 'function') p();
    else await p;
  } catch (err) {
    expect(err, (err as Error).stack).to.be.instanceOf(ConfigError);
    expect((err as ConfigError).fields).to.deep.equal(fields);
    for (const pattern of patterns) expect((err as Error).message).to.match(pattern);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('own model, data and behaviour (examples/own-model)', function () {
  this.timeout(120000);
  let calls = 0;

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    // The example's behaviour, with a counter around its update transform (main thread), to see that it ran.
    await loadExtensions([BEHAVIOR]);
    const impl = behaviorImplementation('noisy-scale')!;
    const spy: BehaviorImplementation = {
      ...impl,
      transformUpdate: (update, options, ctx) => {
        calls++;
        return impl.transformUpdate!(update, options, ctx);
      },
    };
    registerBehavior('noisy-scale', spy);
  });

  describe('the example', () => {
    it('loads the PNG folder: 400 + 100 images of 32×32×3 in 10 classes, pixels in [0, 1]', () => {
      const { train, test } = loadDataset(DATA);
      expect([train.count, test.count, train.height, train.width, train.channels, train.numClasses]).to.deep.equal([400, 100, 32, 32, 3, 10]);
      expect(train.name).to.equal('my-data');
      expect(Array.from(train.labels.subarray(0, 12))).to.deep.equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      expect(train.images.every((v) => v >= 0 && v <= 1)).to.equal(true);
    });

    it('builds the function model: layout from params, gradients for the weights and for the input', async () => {
      await loadModelModule(MODEL);
      const spec = modelSpec(MODEL, [32, 32, 3], 10);
      expect(spec.layout.map((e) => e.name)).to.deep.equal(['conv1/kernel', 'conv1/bias', 'conv2/kernel', 'conv2/bias', 'fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias']);
      expect(spec.numParams).to.equal(432 + 16 + 4608 + 32 + 2048 * 64 + 64 + 640 + 10);
      // fanIn defaults: a kernel's dimensions but the last; its bias takes the kernel's.
      expect(spec.layout.map((e) => e.fanIn)).to.deep.equal([27, 27, 144, 144, 2048, 2048, 64, 64]);
      const m = new Model(spec, initialWeights(spec, 1));
      try {
        const x = tf.randomUniform([2, 32, 32, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
        const { grads } = tf.variableGrads(() => tf.sum(m.logits(x, { training: true, dropoutSeed: 1 })) as tf.Scalar, m.params);
        expect(Object.keys(grads)).to.have.length(8);
        for (const g of Object.values(grads)) expect(Number.isFinite(tf.sum(tf.abs(g)).dataSync()[0]!)).to.equal(true);
        const gx = lossInputGradient(m, x, tf.oneHot(tf.tensor1d([1, 2], 'int32'), 10).toFloat() as tf.Tensor2D);
        expect(gx.shape).to.deep.equal([2, 32, 32, 3]);
        expect(tf.sum(tf.abs(gx)).dataSync()[0]!).to.be.greaterThan(0);
        // Inference mode has no dropout: two passes agree; the fused path equals the plain one.
        expect(Array.from(m.predictLogits(x).dataSync())).to.deep.equal(Array.from(m.logits(x).dataSync()));
        tf.dispose([x, gx, ...Object.values(grads)]);
      } finally {
        m.dispose();
      }
    });

    it('trains in plaintext through loadScenario overrides, repeatably, and the registered behaviour runs', async () => {
      const before = calls;
      const a = await simulate(cliOverrides(['secure=false', CORRUPTED, 'corrupted.fraction=0.25']));
      expect(a.rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
      // Round-robin classes of coloured patterns: well above chance (10 %) after two rounds, loss falling.
      expect(a.rounds[1]!.trainLoss!).to.be.lessThan(a.rounds[0]!.trainLoss!);
      expect(a.result.final.accuracy['clean']!).to.be.greaterThan(0.25);
      expect(a.result.final.accuracy['fgsm']).to.be.a('number');
      // One corrupted client per round (round(0.25·4)); its update went through the registered transform.
      expect(a.rounds.map((r) => r.corrupted.length)).to.deep.equal([1, 1]);
      expect(calls - before).to.equal(2);
      const written = JSON.parse(readFileSync(path.join(a.result.runDir, 'scenario.json'), 'utf8')) as {
        federated: { model: string };
        dataset: string;
        extensions: string[];
        corrupted: { behavior: unknown };
      };
      expect([written.federated.model, written.dataset, written.extensions, written.corrupted.behavior]).to.deep.equal([MODEL, DATA, [BEHAVIOR], { kind: 'noisy-scale', factor: 1.5, sigma: 0.0001 }]);
      const b = await simulate(cliOverrides(['secure=false', CORRUPTED, 'corrupted.fraction=0.25']));
      expect(Buffer.from(b.result.weights!.buffer).equals(Buffer.from(a.result.weights!.buffer))).to.equal(true);
      expect(b.result.final).to.deep.equal(a.result.final);
    });

    it("runs from a user's own folder: a copy of the example, rfl simulate --model ./my-model.js --data ./my-data there", () => {
      // The user's project: the example's files copied to a folder outside the repository, which is the cwd; the
      // repository's built binary runs with paths relative to it, as the README's "your own model" step says.
      const home = realpathSync(tmpDir());
      const mine = path.join(home, 'my-project');
      cpSync(EXAMPLE, mine, { recursive: true });
      const r = spawnSync(
        process.execPath,
        [
          path.resolve('dist/cli/rfl.js'),
          'simulate',
          '--model',
          './my-model.js',
          '--data',
          './my-data',
          '--extension',
          './my-behavior.js',
          '--set',
          'corrupted={fraction: 0.25, behavior: {kind: noisy-scale, factor: 5, sigma: 0.01}}',
          '--method',
          'fedavg',
          '--clients',
          '4',
          '--rounds',
          '1',
          '--set',
          'fraction=1',
          '--set',
          'localEpochs=1',
          '--set',
          'evalSubset=50',
          '--set',
          'evalAttacks=[clean]',
          '--set',
          'finalAttacks=[clean]',
          '--workers',
          '1',
          '--no-progress',
          '--out',
          './run',
        ],
        { cwd: mine, encoding: 'utf8', timeout: 120000, env: { ...process.env, RFL_BACKEND: 'wasm' } },
      );
      expect(r.status, r.stderr).to.equal(0);
      expect(r.stderr).to.match(/scenario quickstart: fedavg on \.\/my-model\.js with \.\/my-data, 4 clients, 4 per round, 1 round, secure aggregation \(mean\), 25 % noisy-scale; writing \.\/run/);
      const run = path.join(mine, 'run');
      const results = readFileSync(path.join(run, 'results.json'), 'utf8');
      const parsed = JSON.parse(results) as { completedRounds: number; final: { accuracy: { clean: number }; evaluated: number } };
      expect(parsed.completedRounds).to.equal(1);
      expect(parsed.final.evaluated).to.equal(50);
      expect(parsed.final.accuracy.clean).to.be.within(0, 1);
      // The run names no folder of the machine it ran on.
      expect(results).to.not.include(home);
      const written = JSON.parse(readFileSync(path.join(run, 'scenario.json'), 'utf8')) as { federated: { model: string }; dataset: string; extensions: string[] };
      expect([written.federated.model, written.dataset, written.extensions]).to.deep.equal(['./my-model.js', './my-data', ['./my-behavior.js']]);
      const rounds = readFileSync(path.join(run, 'rounds.jsonl'), 'utf8').trim().split('\n');
      expect(rounds).to.have.length(1);
      expect((JSON.parse(rounds[0]!) as { corrupted: string[] }).corrupted).to.have.length(1);
    });

    it('runs fed-bva with secure aggregation (Decent_BVA input gradients through the function model)', async () => {
      const { result, rounds } = await simulate(cliOverrides(['method=fed-bva', 'secure=true', 'localEpochs=1']));
      expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
      expect(rounds.every((r) => r.survivors === 4 && r.trained === 4)).to.equal(true);
      expect(result.final.accuracy['clean']!).to.be.greaterThan(0.1);
      expect(Object.keys(result.final.accuracy).sort()).to.deep.equal(['clean', 'fgsm']);
    });

    it('loadScenarioAsync validates the registered behaviour options, naming the option', async () => {
      const s = await loadScenarioAsync(scenarioFile(), cliOverrides([CORRUPTED, 'corrupted.fraction=0.5']));
      expect(s.corrupted!.behavior).to.deep.equal({ kind: 'noisy-scale', factor: 1.5, sigma: 0.0001 });
      await expectConfigError(
        loadScenarioAsync(scenarioFile(), cliOverrides(['corrupted={fraction: 0.5, behavior: {kind: noisy-scale, factor: big}}'])),
        ['corrupted.behavior.factor'],
        /factor must be a finite number/,
      );
      // poisonBva is allowed: the example has a transformBva; defaults are filled by its parse.
      const bva = await loadScenarioAsync(scenarioFile(), cliOverrides(['corrupted={fraction: 0.5, behavior: {kind: noisy-scale}, poisonBva: true}', 'method=fed-bva']));
      expect(bva.corrupted).to.deep.include({ poisonBva: true, behavior: { kind: 'noisy-scale', factor: 5, sigma: 0.01 } });
    });
  });

  describe('other ways in', () => {
    it('a registered model (layer list) and a registered dataset from an extension object', async () => {
      const dir = tmpDir();
      const ext = path.join(dir, 'ext.mjs');
      writeFileSync(
        ext,
        `export default {
  models: { 'tiny-mlp': [{ kind: 'flatten' }, { kind: 'dense', units: 16, activation: 'relu' }, { kind: 'dense', units: 10 }] },
  datasets: { 'tiny-synthetic': async () => (await import(${JSON.stringify(new URL('../shared/data/synthetic.js', import.meta.url).href)})).makeSyntheticDataset({ count: 120, testCount: 40, seed: 2, numClasses: 4 }) },
};\n`,
      );
      const s = await prepareScenario(
        resolveScenario({
          method: 'fedavg',
          model: 'tiny-mlp',
          dataset: 'tiny-synthetic',
          extensions: [ext],
          rounds: 1,
          numClients: 2,
          evalAttacks: ['clean'],
          finalAttacks: ['clean'],
          sharedSetSize: 8,
        }),
      );
      expect(s.federated.model).to.equal('tiny-mlp');
      const data: DatasetSplit = await loadDatasetAsync('tiny-synthetic');
      expect(data.train.numClasses).to.equal(4);
      expect(modelSpec('tiny-mlp', [data.train.height, data.train.width, data.train.channels], 4).layout.map((e) => e.shape)).to.deep.equal([[784, 16], [16], [16, 4], [4]]);
      expect(() => loadDataset('tiny-synthetic')).to.throw(DataError, /asynchronous; load it with loadDatasetAsync/);
    });

    it('a registered data-poisoning behaviour runs in the pool worker (its extension loaded there)', async () => {
      const ext = path.join(tmpDir(), 'to-zero.mjs');
      // Every corrupted example is relabelled to class 0; the worker must have imported this module to do it.
      writeFileSync(ext, `export default ({ registerBehavior }) => registerBehavior('to-zero', { poisonData: (d) => ({ images: d.images, labels: d.labels.fill(0) }) });\n`);
      const data = makeSyntheticDataset({ count: 240, testCount: 60, seed: 7 });
      const scenario = resolveScenario({
        method: 'fedavg',
        model: 'linear',
        dataset: 'synthetic',
        secure: false,
        extensions: [ext],
        numClients: 3,
        fraction: 1,
        rounds: 1,
        localEpochs: 3,
        batchSize: 16,
        lr: 0.5,
        sharedSetSize: 8,
        evalAttacks: ['clean'],
        finalAttacks: ['clean'],
        seed: 1,
        workers: 1,
        corrupted: { fraction: 1, behavior: { kind: 'to-zero' } },
      });
      const result = await runSimulation({ scenario, runDir: path.join(tmpDir(), 'run'), data, gpuEval: false, log: () => undefined });
      // Trained on label 0 only, the model answers 0 everywhere: its accuracy is the share of class 0.
      expect(result.final.accuracy['clean']).to.equal(data.test.labels.filter((y) => y === 0).length / data.test.count);
    });

    it('a single labels.csv with a split column, grey images', () => {
      const dir = tmpDir();
      writePng(path.join(dir, 'a.png'), 4, 3, false, 255);
      writePng(path.join(dir, 'b.png'), 4, 3, false, 0);
      writeFileSync(path.join(dir, 'labels.csv'), 'split,label,file\ntrain,1,a.png\ntrain,0,b.png\ntest,2,"b.png"\n');
      const d = loadDataset(dir, { cache: false });
      expect([d.train.count, d.test.count, d.train.height, d.train.width, d.train.channels, d.train.numClasses]).to.deep.equal([2, 1, 3, 4, 1, 3]);
      expect(d.train.images[0]).to.equal(1);
      expect(d.test.images[0]).to.equal(0);
    });

    it('registerModel checks the definition and forward output; registerBehavior refuses built-in kinds', () => {
      expect(() => registerModel('mlp', [{ kind: 'flatten' }, { kind: 'dense', units: 3 }])).to.throw(ConfigError, /built-in model/);
      expect(() => registerModel('bad', { params: [], forward: () => undefined } as never)).to.throw(ConfigError, /params is empty|at least one parameter/);
      expect(() => registerModel('bad', { forward: 3 } as never)).to.throw(ConfigError, /forward must be a function/);
      registerModel('wrong-width', { params: [{ name: 'w', shape: [4, 3] }], forward: (p, x, { tf: t }) => t.matMul(t.reshape(x, [x.shape[0], -1]), p['w']!) });
      const spec = modelSpec('wrong-width', [2, 2, 1], 5);
      const m = new Model(spec, initialWeights(spec, 1));
      expect(() => m.predictLogits(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D)).to.throw(/forward returned a tensor of shape \[1, 3\]; expected logits \[batch = 1, classes = 5\]/);
      m.dispose();
      expect(() => registerBehavior('gaussian', { transformUpdate: (u) => u })).to.throw(ConfigError, /built-in behaviour/);
      expect(() => registerBehavior('idle', {})).to.throw(ConfigError, /poisonData.*transformUpdate/);
    });
  });

  describe('bad inputs are named', () => {
    it('a folder without labels.csv', async () => {
      const dir = tmpDir();
      writePng(path.join(dir, 'a.png'), 32, 32, true);
      expectDataError(() => loadDataset(dir), /has no labels\.csv/, /train\/labels\.csv and test\/labels\.csv/);
      // Through a simulation: the same DataError, before any worker starts.
      const scenario = loadScenario(scenarioFile(), [`model=${MODEL}`, `dataset=${dir}`]);
      try {
        await runSimulation({ scenario, runDir: path.join(tmpDir(), 'run'), gpuEval: false, log: () => undefined });
        expect.fail('the run should not start');
      } catch (err) {
        expect(err).to.be.instanceOf(DataError);
        expect((err as Error).message).to.match(/labels\.csv/);
      }
      const half = tmpDir();
      mkdirSync(path.join(half, 'train'));
      writeFileSync(path.join(half, 'train', 'labels.csv'), 'file,label\n');
      expectDataError(() => loadDataset(half), /test\/labels\.csv is missing/);
    });

    it('mixed image sizes, a listed file that is absent, a label that is not an integer, a missing column', () => {
      const mixed = imageFolder(['a.png,0', 'b.png,1'], ['a.png,0'], { 'a.png': [32, 32, true], 'b.png': [16, 32, true] });
      expectDataError(() => loadDataset(mixed), /train\/labels\.csv, row 2 \(line 3\): b\.png is 16×32 colour \(RGB\), but the dataset's images are 32×32 colour \(RGB\) \(like a\.png\)/);
      const grey = imageFolder(['a.png,0'], ['c.png,0'], { 'a.png': [8, 8, true], 'c.png': [8, 8, false] });
      expectDataError(() => loadDataset(grey), /test\/labels\.csv, row 1 \(line 2\): c\.png is 8×8 grey/);
      const absent = imageFolder(['a.png,0', 'gone.png,1'], ['a.png,0'], { 'a.png': [8, 8, true] });
      expectDataError(() => loadDataset(absent), /train\/labels\.csv, row 2 \(line 3\): gone\.png does not exist/);
      const label = imageFolder(['a.png,0', 'a.png,cat'], ['a.png,0'], { 'a.png': [8, 8, true] });
      expectDataError(() => loadDataset(label), /train\/labels\.csv, row 2 \(line 3\): label "cat" of a\.png is not an integer class in \[0, 255\]/);
      const fraction = imageFolder(['a.png,1.5'], ['a.png,0'], { 'a.png': [8, 8, true] });
      expectDataError(() => loadDataset(fraction), /row 1 \(line 2\): label "1\.5"/);
      const top = tmpDir();
      writePng(path.join(top, 'a.png'), 8, 8, true);
      writeFileSync(path.join(top, 'labels.csv'), 'file,label\na.png,0\n');
      expectDataError(() => loadDataset(top), /labels\.csv, line 1: the header has no "split" column/);
      const notPng = imageFolder(['x.png,0'], ['x.png,0'], {});
      writeFileSync(path.join(notPng, 'train', 'x.png'), 'not a png');
      expectDataError(() => loadDataset(notPng), /train\/labels\.csv, row 1 \(line 2\): x\.png is not a readable PNG/);
    });

    it('an unknown model path, an unknown model name, a module that exports no model', async () => {
      const file = scenarioFile();
      await expectConfigError(
        () => loadScenario(file, [`model=./no/such-model.js`, `dataset=${DATA}`]),
        ['model'],
        /model = "\.\/no\/such-model\.js": no such file \(resolved to .*no\/such-model\.js\)/,
        /path of a JavaScript module/,
      );
      await expectConfigError(() => loadScenario(file, ['model=resnet', `dataset=${DATA}`]), ['model'], /model = "resnet" is invalid/, /registerModel/);
      // With extensions not loaded yet, an unknown name waits for them, then is refused by name.
      await expectConfigError(loadScenarioAsync(file, ['model=resnet', `dataset=${DATA}`, `extensions=[${path.join(tmpDir(), 'x')}]`]), ['extensions'], /no such file/);
      const ext = path.join(tmpDir(), 'nothing.mjs');
      writeFileSync(ext, 'export const x = 1;\n');
      await expectConfigError(loadScenarioAsync(file, ['model=resnet2', `dataset=${DATA}`, `extensions=[${ext}]`]), ['model'], /model = "resnet2" is unknown even after loading the extensions/);
      const noDefault = path.join(tmpDir(), 'no-default.mjs');
      writeFileSync(noDefault, 'export const params = [];\n');
      await expectConfigError(loadScenarioAsync(file, [`model=${noDefault}`, `dataset=${DATA}`]), ['model'], /has no default export/);
      const notAModel = path.join(tmpDir(), 'not-a-model.mjs');
      writeFileSync(notAModel, 'export default { forward: (p, x) => x };\n');
      await expectConfigError(loadScenarioAsync(file, [`model=${notAModel}`, `dataset=${DATA}`]), ['model'], /params must be a list/);
      const broken = path.join(tmpDir(), 'broken.mjs');
      writeFileSync(broken, 'export default {;\n');
      await expectConfigError(loadScenarioAsync(file, [`model=${broken}`, `dataset=${DATA}`]), ['model'], /cannot import/);
      // The example CNN takes 32×32×3 images; the synthetic digits are 28×28×1.
      const scenario = loadScenario(file, [`model=${MODEL}`, 'dataset=synthetic']);
      await expectConfigError(
        runSimulation({ scenario, runDir: path.join(tmpDir(), 'run'), data: makeSyntheticDataset({ count: 40, testCount: 10, seed: 1 }), gpuEval: false, log: () => undefined }),
        ['model', 'dataset'],
        /takes 32×32×3 inputs .* the dataset's images are 28×28×1/,
      );
    });

    it('an unknown dataset or directory, an unknown behaviour kind', async () => {
      const file = scenarioFile();
      await expectConfigError(() => loadScenario(file, [`model=${MODEL}`, 'dataset=./no-such-data']), ['dataset'], /dataset = "\.\/no-such-data": no such directory/);
      await expectConfigError(() => loadScenario(file, [`model=${MODEL}`, 'dataset=cifar-17']), ['dataset'], /dataset = "cifar-17" is unknown/, /image folder/);
      await expectConfigError(
        () => loadScenario(file, [`model=${MODEL}`, `dataset=${DATA}`, 'corrupted={fraction: 0.5, behavior: {kind: noisy-scales}}']),
        ['corrupted.behavior.kind'],
        /kind = "noisy-scales" is invalid: kind must be one of label-flip/,
        /registered: .*noisy-scale/,
      );
    });
  });
});
