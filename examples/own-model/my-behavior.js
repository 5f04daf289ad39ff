/**
 * A corrupted-client behaviour, registered as `noisy-scale`: the client trains honestly, then sends
 * factor·Δ + N(0, sigma²) noise per coordinate instead of its update Δ = w_trained − w_global. With
 * `corrupted.poisonBva: true` it scales its Decent_BVA statistics by `factor` as well.
 *
 * List this module in a scenario's `extensions` (or `--extension` on the command line) and name the kind:
 *
 *   extensions: [./examples/own-model/my-behavior.js]
 *   corrupted: { fraction: 0.25, behavior: { kind: noisy-scale, factor: 5, sigma: 0.01 } }
 *
 * The default export is a function that receives the registration API, so this module imports nothing.
 */
export default function register({ registerBehavior }) {
  registerBehavior('noisy-scale', {
    description: 'sends factor·Δ plus Gaussian noise',
    // Options as written in the scenario (without `kind`); throw to refuse them, return them with defaults filled.
    parse(options) {
      const { factor = 5, sigma = 0.01, ...rest } = options;
      const unknown = Object.keys(rest);
      if (unknown.length > 0) throw Object.assign(new Error(`unknown option ${unknown[0]}; noisy-scale takes factor and sigma`), { field: unknown[0] });
      if (typeof factor !== 'number' || !Number.isFinite(factor)) throw Object.assign(new Error(`factor must be a finite number, got ${JSON.stringify(factor)}`), { field: 'factor' });
      if (typeof sigma !== 'number' || !(sigma >= 0)) throw Object.assign(new Error(`sigma must be a number ≥ 0, got ${JSON.stringify(sigma)}`), { field: 'sigma' });
      return { factor, sigma };
    },
    // Runs in the main thread after the client trained; ctx.rng is seeded per client and round.
    transformUpdate(update, { factor, sigma }, ctx) {
      const out = new Float32Array(update.length);
      for (let i = 0; i < out.length; i++) out[i] = factor * update[i] + (sigma > 0 ? ctx.rng.normal(0, sigma) : 0);
      return out;
    },
    // Only with corrupted.poisonBva: true.
    transformBva(values, { factor }) {
      return values.map((v) => v.map((x) => factor * x));
    },
  });
}
