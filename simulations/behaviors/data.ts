/**
 * Data poisoning (threats-and-evaluation.md §3): label flipping (Tolpegin et al., "Data Poisoning Attacks
 * Against Federated Learning Systems", ESORICS 2020, arXiv 2007.08432; Blades `LabelFlipAdversary`) and the
 * pixel-pattern backdoor of Bagdasaryan et al. ("How To Backdoor Federated Learning", AISTATS 2020,
 * arXiv 1807.00459, §4; FedML's 4×4 corner square).
 *
 * Both return new arrays and never write to the client's local arrays, which may be views of the dataset that
 * every worker shares. The poisoned examples are exactly round(fraction·n) (label flip) or round(p·n)
 * (backdoor) of the n local examples, drawn without replacement from the given generator; Math.round, so
 * halves go up. The backdoor draws from all n examples, target-labelled ones included (they keep their label
 * and gain the trigger, which is what an attacker mixing poisoned rows into its batches does).
 */
import type { Rng } from '../../shared/util/random.js';
import type { ImageSource } from '../../shared/train/batches.js';
import { behaviorOptions, dataPoisonOf, implementationOf, isBuiltinBehavior, type AnyBehaviorSpec, type BackdoorSpec, type LabelFlipSpec, type Trigger } from './spec.js';

/** A client's local examples: NHWC images in [0, 1] and integer labels. */
export type LocalData = ImageSource;

/** The poisoned copy of a client's examples. */
export interface PoisonedData {
  /** A new array (a copy, stamped where poisoned). */
  images: Float32Array;
  /** A new array (a copy, relabelled where poisoned). */
  labels: Uint8Array;
  /** The indices of the poisoned examples, ascending (empty for behaviours that leave data alone). */
  poisoned: Int32Array;
}

/** Image shape of a batch or dataset. */
export type ImageShape = Pick<ImageSource, 'height' | 'width' | 'channels'>;

/**
 * Applies the behaviour's data poisoning (`dataPoisonOf`: label flip, backdoor, or a scale's base; a registered
 * behaviour's `poisonData`) to copies of the local examples; behaviours that do not poison data get plain copies.
 */
export function poisonLocalData(spec: AnyBehaviorSpec, local: LocalData, rng: Rng): PoisonedData {
  const n = local.labels.length;
  const d = local.height * local.width * local.channels;
  if (local.images.length !== n * d) {
    throw new RangeError(`poisonLocalData: ${n} labels need ${n * d} image floats (${local.height}×${local.width}×${local.channels} each), got ${local.images.length}`);
  }
  const images = local.images.slice();
  const labels = local.labels.slice();
  if (!isBuiltinBehavior(spec)) {
    const impl = implementationOf(spec);
    if (impl.poisonData === undefined) return { images, labels, poisoned: new Int32Array(0) };
    const shape = { height: local.height, width: local.width, channels: local.channels, numClasses: local.numClasses };
    const out = impl.poisonData({ images, labels, ...shape }, behaviorOptions(spec), rng);
    const what = `behaviour ${spec.kind}: poisonData`;
    if (out === null || typeof out !== 'object') throw new Error(`${what} must return { images, labels }, got ${out === null ? 'null' : typeof out}`);
    if (!(out.images instanceof Float32Array) || out.images.length !== n * d)
      throw new Error(`${what} must return images as a Float32Array of ${n * d} values (${n} examples of ${local.height}×${local.width}×${local.channels})`);
    if (!(out.labels instanceof Uint8Array) || out.labels.length !== n) throw new Error(`${what} must return labels as a Uint8Array of ${n} values`);
    const bad = out.labels.findIndex((y) => y >= local.numClasses);
    if (bad >= 0) throw new Error(`${what} returned label ${out.labels[bad]} at ${bad}; labels must be in [0, ${local.numClasses})`);
    return { images: out.images, labels: out.labels, poisoned: out.poisoned instanceof Int32Array ? out.poisoned : new Int32Array(0) };
  }
  const poison = dataPoisonOf(spec);
  if (poison === undefined) return { images, labels, poisoned: new Int32Array(0) };
  if (poison.kind === 'label-flip') {
    const map = labelMap(poison, local.numClasses);
    const poisoned = pick(rng, n, poison.fraction);
    for (const i of poisoned) labels[i] = map[labels[i]!]!;
    return { images, labels, poisoned };
  }
  checkTarget(poison, local.numClasses);
  const poisoned = pick(rng, n, poison.p);
  stampTrigger(images, n, local, poison.trigger, poisoned);
  for (const i of poisoned) labels[i] = poison.target;
  return { images, labels, poisoned };
}

/** The label map of a label flip as an array over classes: y → C − 1 − y for `reverse`. */
export function labelMap(spec: LabelFlipSpec, numClasses: number): Uint8Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) throw new RangeError(`label flip: numClasses must be an integer in [1, 256], got ${numClasses}`);
  if (spec.map === 'reverse') return Uint8Array.from({ length: numClasses }, (_, y) => numClasses - 1 - y);
  if (spec.map.length !== numClasses) throw new RangeError(`label flip: map needs one entry per class (${numClasses}), got ${spec.map.length}`);
  for (const [y, t] of spec.map.entries()) {
    if (!(Number.isInteger(t) && t >= 0 && t < numClasses)) throw new RangeError(`label flip: map[${y}] = ${t} is not a class in [0, ${numClasses})`);
  }
  return Uint8Array.from(spec.map);
}

/**
 * Overwrites the trigger square with `trigger.value` on every channel of examples 0 … count−1 of `images`, or of
 * only the examples listed in `rows`, in place (NHWC layout); returns `images`. Overwriting, not adding, keeps
 * trigger pixels identical whatever the image was (§9).
 */
export function stampTrigger(images: Float32Array, count: number, shape: ImageShape, trigger: Trigger, rows?: ArrayLike<number>): Float32Array {
  const { height: H, width: W, channels: C } = shape;
  const d = H * W * C;
  if (!Number.isInteger(count) || count < 0 || count * d > images.length) {
    throw new RangeError(`stampTrigger: count ${count} of ${H}×${W}×${C} images needs ${count * d} floats, buffer has ${images.length}`);
  }
  if (!(trigger.size >= 1 && trigger.row >= 0 && trigger.col >= 0 && trigger.row + trigger.size <= H && trigger.col + trigger.size <= W)) {
    throw new RangeError(`stampTrigger: a ${trigger.size}×${trigger.size} trigger at (${trigger.row}, ${trigger.col}) does not fit a ${H}×${W} image`);
  }
  const stampOne = (n: number): void => {
    if (!(Number.isInteger(n) && n >= 0 && n < count)) throw new RangeError(`stampTrigger: row ${n} is not one of the ${count} examples`);
    for (let r = trigger.row; r < trigger.row + trigger.size; r++) {
      const start = ((n * H + r) * W + trigger.col) * C;
      images.fill(trigger.value, start, start + trigger.size * C);
    }
  };
  if (rows === undefined) for (let n = 0; n < count; n++) stampOne(n);
  else for (let i = 0; i < rows.length; i++) stampOne(rows[i]!);
  return images;
}

/** The trigger pixels' flat offsets within one H×W×C image, ascending (for tests and measurement). */
export function triggerOffsets(shape: ImageShape, trigger: Trigger): Int32Array {
  const { height: H, width: W, channels: C } = shape;
  if (trigger.row + trigger.size > H || trigger.col + trigger.size > W) throw new RangeError(`triggerOffsets: the trigger does not fit a ${H}×${W} image`);
  const out = new Int32Array(trigger.size * trigger.size * C);
  let k = 0;
  for (let r = trigger.row; r < trigger.row + trigger.size; r++) {
    for (let c = trigger.col; c < trigger.col + trigger.size; c++) {
      for (let ch = 0; ch < C; ch++) out[k++] = (r * W + c) * C + ch;
    }
  }
  return out;
}

/** Exactly round(fraction·n) distinct indices in [0, n), ascending. */
function pick(rng: Rng, n: number, fraction: number): Int32Array {
  const k = Math.min(n, Math.round(fraction * n));
  return rng.sampleWithoutReplacement(n, k).sort();
}

function checkTarget(spec: BackdoorSpec, numClasses: number): void {
  if (!(Number.isInteger(spec.target) && spec.target >= 0 && spec.target < numClasses)) {
    throw new RangeError(`backdoor: target ${spec.target} is not a class in [0, ${numClasses})`);
  }
}
