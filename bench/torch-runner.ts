/**
 * Runs a PyTorch side-by-side script with the first Python that can import torch (PYTHON, then python3 on
 * PATH, then Debian's /usr/bin/python3, where `apt-get install python3-torch` puts it). Returns null, with
 * the reason, when none can.
 */
import { spawnSync } from 'node:child_process';

/** Result of a PyTorch run, or why there is none. */
export type TorchRun<T> = { ok: true; python: string; result: T } | { ok: false; reason: string };

/**
 * Executes `script` with the JSON-encoded `args`, parsing the last stdout line as JSON. `prefer` (a Python path) is
 * tried first.
 */
export function runTorch<T>(script: string, args: object, prefer?: string): TorchRun<T> {
  const candidates = [prefer, process.env['PYTHON'], 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  const reasons: string[] = [];
  for (const py of [...new Set(candidates)]) {
    const probe = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.status !== 0) {
      reasons.push(`${py}: ${probe.error?.message ?? (probe.stderr.trim().split('\n').pop() || 'cannot import torch')}`);
      continue;
    }
    const r = spawnSync(py, [script, JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) return { ok: false, reason: `${py} ${script} failed: ${r.stderr.trim().slice(-500)}` };
    const line = r.stdout.trim().split('\n').pop() ?? '';
    return { ok: true, python: py, result: JSON.parse(line) as T };
  }
  return { ok: false, reason: `no Python with torch (${reasons.join('; ')}); install Debian's python3-torch to compare` };
}
