/** `rfl train`: the centralised baseline (simulations/central-training.ts). */
import { BACKEND_OPTION, type CommandSpec } from '../spec.js';

export const train: CommandSpec = {
  name: 'train',
  summary: 'train one model centrally (optionally adversarially): the baseline a federation is compared with',
  description:
    'Prints test accuracy after each epoch, then clean and attacked accuracy of the result. With --adversarial it is the centralised PGD-AT / TRADES / EAT baseline of docs/spec/decent-bva.md §2.1.',
  options: {
    epochs: { help: 'training epochs', arg: 'N', kind: 'int', min: 1, max: 10000, default: '10' },
    dataset: { help: 'dataset name', arg: 'NAME', default: 'mnist-embedded' },
    'data-dir': { help: "directory of the dataset's IDX files", arg: 'DIR' },
    model: { help: 'model name', arg: 'NAME', default: 'cnn-mnist' },
    seed: { help: 'seed of the initial weights and batch order', arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '1' },
    backend: BACKEND_OPTION,
    'attack-count': { help: 'test images attacked', arg: 'N', kind: 'int', min: 1, max: 1000000, unit: 'images', default: '1000' },
    adversarial: { help: 'adversarial training as the federated methods of those names run it', arg: 'KIND', choices: ['none', 'eat', 'pgd-at', 'trades'], default: 'none' },
    eps: { help: 'training ε (L∞, pixels in [0, 1])', arg: 'E', kind: 'number', min: 0, max: 1, default: '0.3' },
    steps: { help: 'PGD / TRADES steps', arg: 'N', kind: 'int', min: 1, max: 1000, default: '10' },
    'trades-beta': { help: 'TRADES weight β of the KL term', arg: 'B', kind: 'number', min: 0, max: 1000, default: '6' },
    'eval-eps': { help: 'ε of the evaluation attacks', arg: 'E', kind: 'number', min: 0, max: 1, defaultNote: '--eps' },
    attacks: { help: 'evaluation attacks, comma-separated (clean, fgsm, pgd-10, pgd-20, pgd-20-madry, pgd-strong)', arg: 'LIST', default: 'clean,fgsm,pgd-20,pgd-20-madry' },
    out: { help: 'write the figures as JSON to this file', arg: 'FILE' },
  },
  examples: ['rfl train --epochs 3', 'rfl train --adversarial pgd-at --epochs 5 --attacks clean,pgd-strong'],
  load: () => import('../../simulations/central-training.js'),
};
