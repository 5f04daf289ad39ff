/** The console summary of a finished simulation: final accuracy per attack, backdoor success and timing. */
import { STANDARD_ATTACKS } from '../shared/attacks/robust-accuracy.js';
import type { SimulationResult } from './engine.js';

const LABELS: Record<string, string> = {
  clean: 'clean',
  fgsm: 'FGSM ε 0.3',
  'pgd-10': 'PGD-10 ε 0.3 α 0.01',
  'pgd-20': 'PGD-20 ε 0.3 α 0.01',
  'pgd-20-madry': 'PGD-20 ε 0.3 α 2.5ε/20',
  'pgd-strong': 'PGD-40 ×5 restarts α 2.5ε/40',
  'apgd-ce': 'APGD-CE 100 it.',
  'apgd-dlr': 'APGD-DLR 100 it.',
  'apgd-t': 'APGD-T 100 it. × 9 targets',
  'fab-t': 'FAB-T 100 it. × 9 targets',
  square: 'Square 5000 queries',
  autoattack: 'AutoAttack',
  transfer: 'transfer (worst of A–D)',
};

/** Lines to print. */
export function summaryLines(r: SimulationResult): string[] {
  const out = [`final accuracy on ${r.final.evaluated} test images after ${r.completedRounds}/${r.rounds} completed rounds:`];
  for (const name of Object.keys(STANDARD_ATTACKS)) {
    const v = r.final.accuracy[name];
    if (v === undefined) continue;
    const n = r.final.evaluatedBy?.[name];
    out.push(`  ${(LABELS[name] ?? name).padEnd(30)} ${(100 * v).toFixed(2)} %${n !== undefined && n !== r.final.evaluated ? ` (on the first ${n} images)` : ''}`);
    for (const [c, a] of Object.entries(r.final.components?.[name] ?? {})) out.push(`    ${`${name.startsWith('transfer') ? 'from' : 'after'} ${c}`.padEnd(28)} ${(100 * a).toFixed(2)} %`);
  }
  if (r.final.asr !== undefined) out.push(`  ${'backdoor success rate'.padEnd(30)} ${(100 * r.final.asr).toFixed(2)} %`);
  const t = r.timing;
  out.push(
    `mean round ${(t.roundMs / 1000).toFixed(2)} s: training ${(t.trainMs / 1000).toFixed(2)} s, BV statistics ${(t.bvaMs / 1000).toFixed(2)} s, ` +
      `secure aggregation ${(t.secaggMs / 1000).toFixed(2)} s, other ${(t.otherMs / 1000).toFixed(2)} s; ${t.clientUpdatesPerSec.toFixed(1)} client updates/s`,
  );
  out.push(`${r.clients} virtual clients, ${r.workers} workers, ${(r.wallMs / 1000).toFixed(1)} s in all, RSS ${r.rssMb.toFixed(0)} MB; results in ${r.runDir}`);
  return out;
}
