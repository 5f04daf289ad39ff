/** Timing helpers shared by the benchmark scripts: warm-up, then the median of repeated runs. */

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) throw new Error('median of an empty list');
  return n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

/** `medianMs` of an asynchronous operation (awaited each time, so a GPU read-back is inside the timing). */
export async function medianMsAsync(f: () => Promise<void>, reps: number, warmup: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/** Runs `f` `warmup` times untimed, then `reps` times timed; returns the median in milliseconds. */
export function medianMs(f: () => void, reps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) f();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    f();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}
