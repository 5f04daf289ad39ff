/**
 * The simulation's progress display: a cli-progress bar (rounds, the current phase, the last accuracy) when
 * stderr is a terminal, one line per round otherwise (logs, CI).
 */
import cliProgress from 'cli-progress';
import type { SimRoundRecord } from './engine.js';

/** Hooks for `runSimulation` and a `stop` to call at the end. */
export interface Progress {
  onPhase: (round: number, phase: string) => void;
  onRound: (r: SimRoundRecord) => void;
  stop: () => void;
}

const pct = (v: number | undefined): string => (v === undefined ? '-' : `${(100 * v).toFixed(1)} %`);

/** One line describing a finished round. */
export function roundLine(r: SimRoundRecord, total: number): string {
  const ev =
    r.eval !== undefined
      ? '  ' +
        Object.entries(r.eval)
          .map(([k, v]) => `${k} ${pct(v)}`)
          .join(', ')
      : '';
  const abort = r.abort !== undefined ? ` at ${r.abort.stage} (${r.abort.got}/${r.abort.needed})` : '';
  const loss = r.trainLoss !== undefined ? `  loss ${r.trainLoss.toFixed(3)}` : '';
  const corrupted = r.corrupted.length > 0 ? `, ${r.corrupted.length} corrupted` : '';
  return `round ${r.round}/${total} ${r.status}${abort}: ${r.trained}/${r.cohort} trained${corrupted}, ${r.survivors ?? 0} in the sum, ${(r.ms.round / 1000).toFixed(1)} s${loss}${ev}`;
}

/** A progress display for a run of `total` rounds. */
export function createProgress(total: number, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) {
    return {
      onPhase: () => undefined,
      onRound: (r) => console.error(roundLine(r, total)),
      stop: () => undefined,
    };
  }
  const bar = new cliProgress.SingleBar(
    { format: ' rounds {bar} {value}/{total} | {phase} | {acc} | ETA {eta_formatted}', stream: process.stderr, hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { phase: 'connecting', acc: 'accuracy -' });
  return {
    onPhase: (round, phase) => bar.update({ phase: `round ${round}: ${phase}` }),
    onRound: (r) => bar.update(r.round, { phase: `round ${r.round} ${r.status}`, ...(r.eval?.['clean'] !== undefined ? { acc: `accuracy ${pct(r.eval['clean'])}` } : {}) }),
    stop: () => bar.stop(),
  };
}
