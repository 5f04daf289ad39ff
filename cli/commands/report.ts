/** `rfl report`: the robustness report of matrix and run directories (simulations/report/build.ts). */
import type { CommandSpec } from '../spec.js';

export const report: CommandSpec = {
  name: 'report',
  summary: 'build the robustness report (Markdown, HTML with charts, CSV) from matrix or run directories',
  description: "Every number is read from the directories' results files; paired comparisons over seeds use a paired t-test with Holm–Bonferroni correction (docs/spec/threats-and-evaluation.md).",
  args: { syntax: '[dir...]', help: 'benchmark matrix directories (matrix.json, cells/), simulation run directories, or folders of them' },
  options: {
    out: { help: 'where to write report.md, report.html, charts/ and the CSV files', arg: 'DIR', defaultNote: '<first DIR>/report' },
  },
  examples: ['rfl report runs/smoke', 'rfl report docs/benchmarks/evidence-fashion-mnist-r20e1 --out runs/evidence-report'],
  load: () => import('../report.js'),
};
