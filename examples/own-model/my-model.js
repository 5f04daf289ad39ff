/**
 * A small CIFAR-style CNN for 32×32×3 images, written as a function over weights: `params` lists the
 * parameters (their order is the order of the flat weight vector that clients train and aggregate), `forward`
 * computes logits from them with the tfjs instance it is handed (`ctx.tf`), so this module imports nothing.
 *
 *   conv 3×3, 16 filters, same padding → ReLU → max-pool 2   (32×32×3 → 16×16×16)
 *   conv 3×3, 32 filters, same padding → ReLU → max-pool 2   (→ 8×8×32)
 *   dense 2048 → 64 → ReLU → dropout 0.25 → dense 64 → classes
 *
 * Use it with `model: ./examples/own-model/my-model.js` in a scenario (or `--model` on the command line).
 */
export default {
  description: 'small CIFAR-style CNN (2 conv + 2 dense, 32×32×3 input)',
  // Checked against the dataset: a clear error instead of a shape mismatch deep inside tfjs.
  inputShape: [32, 32, 3],
  // A function of the data's shape, so the last layer has one unit per class of the dataset.
  params: ({ inputShape, numClasses }) => [
    { name: 'conv1/kernel', shape: [3, 3, inputShape[2], 16] },
    { name: 'conv1/bias', shape: [16] },
    { name: 'conv2/kernel', shape: [3, 3, 16, 32] },
    { name: 'conv2/bias', shape: [32] },
    { name: 'fc1/kernel', shape: [8 * 8 * 32, 64] },
    { name: 'fc1/bias', shape: [64] },
    { name: 'fc2/kernel', shape: [64, numClasses] },
    { name: 'fc2/bias', shape: [numClasses] },
  ],
  forward(p, x, { tf, dropout }) {
    let h = tf.relu(tf.add(tf.conv2d(x, p['conv1/kernel'], 1, 'same'), p['conv1/bias']));
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(tf.add(tf.conv2d(h, p['conv2/kernel'], 1, 'same'), p['conv2/bias']));
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.reshape(h, [h.shape[0], -1]);
    h = dropout(tf.relu(tf.add(tf.matMul(h, p['fc1/kernel']), p['fc1/bias'])), 0.25);
    return tf.add(tf.matMul(h, p['fc2/kernel']), p['fc2/bias']);
  },
};
