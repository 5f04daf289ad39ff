/**
 * The model zoo. `cnn-mnist` is CNNMnist of junwu6/FedBVA `models/networks.py` as
 * docs/spec/decent-bva.md §8 lists it (21,840 parameters); A–D are the black-box surrogates of the
 * reference's `blackbox_models.py`, with the parameter counts of the same table; `mlp` is the 2NN of
 * McMahan et al. (arXiv 1602.05629, §3), 784-200-200-10; `linear` is softmax regression, the tiny model
 * that gradient tests check against finite differences.
 */
import type { LayerSpec } from './layers.js';

/** Names of the models the project ships. */
export const MODEL_NAMES = ['cnn-mnist', 'mlp', 'linear', 'surrogate-a', 'surrogate-b', 'surrogate-c', 'surrogate-d'] as const;
/** A model name. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** Layer lists for each model (28×28×1 input, logits out). */
export const MODEL_LAYERS: Record<ModelName, readonly LayerSpec[]> = {
  'cnn-mnist': [
    { kind: 'conv', filters: 10, kernel: 5 },
    { kind: 'maxpool', size: 2 },
    { kind: 'relu' },
    { kind: 'conv', filters: 20, kernel: 5 },
    { kind: 'channel-dropout', rate: 0.5 },
    { kind: 'maxpool', size: 2 },
    { kind: 'relu' },
    { kind: 'flatten' },
    { kind: 'dense', units: 50, activation: 'relu' },
    { kind: 'dropout', rate: 0.5 },
    { kind: 'dense', units: 10 },
  ],
  mlp: [{ kind: 'flatten' }, { kind: 'dense', units: 200, activation: 'relu' }, { kind: 'dense', units: 200, activation: 'relu' }, { kind: 'dense', units: 10 }],
  linear: [{ kind: 'flatten' }, { kind: 'dense', units: 10 }],
  'surrogate-a': [
    { kind: 'conv', filters: 64, kernel: 5, activation: 'relu' },
    { kind: 'conv', filters: 64, kernel: 5, activation: 'relu' },
    { kind: 'channel-dropout', rate: 0.25 },
    { kind: 'flatten' },
    { kind: 'dense', units: 128, activation: 'relu' },
    { kind: 'dropout', rate: 0.25 },
    { kind: 'dense', units: 10 },
  ],
  // B is linear (no activations), as in the reference.
  'surrogate-b': [
    { kind: 'channel-dropout', rate: 0.2 },
    { kind: 'conv', filters: 64, kernel: 8 },
    { kind: 'conv', filters: 128, kernel: 6 },
    { kind: 'conv', filters: 128, kernel: 5 },
    { kind: 'channel-dropout', rate: 0.5 },
    { kind: 'flatten' },
    { kind: 'dense', units: 10 },
  ],
  'surrogate-c': [
    { kind: 'conv', filters: 128, kernel: 3 },
    { kind: 'tanh' },
    { kind: 'maxpool', size: 2 },
    { kind: 'conv', filters: 64, kernel: 3 },
    { kind: 'tanh' },
    { kind: 'maxpool', size: 2 },
    { kind: 'flatten' },
    { kind: 'dense', units: 128, activation: 'relu' },
    { kind: 'dense', units: 10 },
  ],
  'surrogate-d': [
    { kind: 'flatten' },
    { kind: 'dense', units: 512, activation: 'relu' },
    { kind: 'dropout', rate: 0.5 },
    { kind: 'dense', units: 512, activation: 'relu' },
    { kind: 'dropout', rate: 0.5 },
    { kind: 'dense', units: 10 },
  ],
};
