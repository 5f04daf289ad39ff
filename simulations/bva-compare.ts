/**
 * `rfl bench bva-compare [options]`: every method of decent-bva.md §2 on the same data, cohorts, initial
 * model and seed, with the in-process runner, then one table: method × (clean, FGSM, PGD-10, PGD-20, strong
 * PGD), accuracy in % on the first `--eval-subset` test images, with each method's wall time.
 *
 * The default protocol is a reduced one for the embedded data (it is printed with the table); the `paper`
 * protocol is `--clients 100 --fraction 0.1 --local-epochs 50 --rounds 100` on a 60,000-image dataset.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend, type BackendName } from '../shared/compute/backend.js';
import { loadDataset } from '../shared/data/index.js';
import { runFederated, type FederatedResult } from '../shared/federated/runner.js';
import { METHOD_NAMES } from '../shared/federated/methods.js';
import { STANDARD_ATTACKS } from '../shared/attacks/robust-accuracy.js';
import { intFlag, numberFlag } from '../shared/util/flags.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  dataset: { type: 'string', default: 'mnist-embedded' },
  'data-dir': { type: 'string' },
  methods: { type: 'string', default: METHOD_NAMES.join(',') },
  clients: { type: 'string', default: '10' },
  fraction: { type: 'string', default: '0.5' },
  rounds: { type: 'string', default: '15' },
  'local-epochs': { type: 'string', default: '2' },
  'bva-attack': { type: 'string', default: 'fgsm' },
  'eval-subset': { type: 'string', default: '1000' },
  seed: { type: 'string', default: '1' },
  backend: { type: 'string' },
  out: { type: 'string', default: 'runs/bva-compare.json' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });

  await initBackend(values.backend !== undefined ? { backend: values.backend as BackendName } : {});
  const data = loadDataset(values.dataset!, values['data-dir'] !== undefined ? { dir: values['data-dir'] } : {});
  const methods = values.methods!.split(',').map((m) => m.trim());
  const attacks = ['clean', 'fgsm', 'pgd-10', 'pgd-20', 'pgd-strong'];
  const rounds = intFlag('rounds', values.rounds, 1);
  const common = {
    numClients: intFlag('clients', values.clients, 1),
    fraction: numberFlag('fraction', values.fraction, 0, 1),
    rounds,
    localEpochs: intFlag('local-epochs', values['local-epochs'], 1),
    evalEvery: rounds,
    evalSubset: intFlag('eval-subset', values['eval-subset'], 1),
    evalAttacks: ['clean'],
    finalAttacks: attacks,
    seed: intFlag('seed', values.seed, 0),
    bva: { attack: values['bva-attack'] as 'fgsm' | 'pgd' },
  };
  const m = Math.max(Math.floor(common.fraction * common.numClients), 1);
  const strong = STANDARD_ATTACKS['pgd-strong']!;
  const protocol =
    `${values.dataset} (${data.train.count} train / ${data.test.count} test), cnn-mnist, ${common.numClients} clients IID, ` +
    `cohort ${m} per round, ${common.rounds} rounds × ${common.localEpochs} local epochs, batch 64, SGD lr 0.01 momentum 0.9, ` +
    `n_s 64, β 1, λ 0.64, BV-${common.bva.attack.toUpperCase()} ε 0.3, seed ${common.seed}. ` +
    `Evaluation on the first ${common.evalSubset} test images, ε = 0.3: FGSM; PGD-10/20 α 0.01, random start (reference); ` +
    `strong PGD ${strong.kind === 'pgd' ? `${strong.steps} steps, α ${strong.alpha.toFixed(5)}, ${strong.restarts} restarts` : ''}.`;
  console.log(`protocol: ${protocol}`);

  const results: { method: string; final: Record<string, number>; wallMs: number; rounds: FederatedResult['rounds'] }[] = [];
  for (const method of methods) {
    const r = await runFederated(
      data,
      { ...common, method },
      {
        onRound: (x) => process.stderr.write(`\r${method}: round ${x.round}/${common.rounds}, train loss ${x.trainLoss.toFixed(3)}   `),
      },
    );
    process.stderr.write('\n');
    results.push({ method, final: r.final, wallMs: r.wallMs, rounds: r.rounds });
  }

  const pct = (v: number | undefined): string => (v === undefined ? '-' : (100 * v).toFixed(1)).padStart(7);
  const header = `| ${'method'.padEnd(12)} | ${['clean', 'FGSM', 'PGD-10', 'PGD-20', 'strong'].map((h) => h.padStart(7)).join(' | ')} | ${'wall s'.padStart(7)} |`;
  console.log(`\nseed ${common.seed}; accuracy (%) on ${common.evalSubset} test images\n`);
  console.log(header);
  console.log(header.replace(/[^|]/g, '-'));
  for (const r of results) {
    console.log(`| ${r.method.padEnd(12)} | ${attacks.map((a) => pct(r.final[a])).join(' | ')} | ${(r.wallMs / 1000).toFixed(1).padStart(7)} |`);
  }
  mkdirSync(path.dirname(path.resolve(values.out!)), { recursive: true });
  writeFileSync(values.out!, JSON.stringify({ protocol, config: common, results, date: new Date().toISOString() }, null, 2) + '\n');
  console.log(`\nwrote ${values.out}`);
}
