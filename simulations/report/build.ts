/**
 * Builds a report from run directories into an output directory: report.md, report.html (self-contained),
 * charts/*.svg (the Markdown's images) and the CSV files. Pure with respect to its inputs: it reads results
 * files and writes only under `outDir`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { renderCharts, type Chart } from './charts.js';
import { csvFiles } from './csv-files.js';
import { buildDocument, reportTitle } from './document.js';
import { renderHtml } from './html.js';
import { loadRuns } from './load.js';
import { renderMarkdown } from './markdown.js';
import { buildModel, type ReportModel } from './model.js';

/** What `buildReport` wrote. */
export interface BuiltReport {
  /** Paths of every file written, absolute. */
  files: string[];
  model: ReportModel;
  /** Problems that did not stop the report (also listed in it). */
  warnings: string[];
}

/** Reads `dirs`, writes the report into `outDir` (created if needed; existing report files are replaced). */
export async function buildReport(dirs: readonly string[], outDir: string): Promise<BuiltReport> {
  const out = path.resolve(outDir);
  // Paths are written relative to the report's folder (sources) and to each source (cells): never absolute.
  const loaded = loadRuns(dirs, { relativeTo: out });
  if (loaded.cells.length === 0) throw new Error(`no cells found in ${dirs.join(', ')}`);
  const model = buildModel(loaded);
  const charts = await renderCharts(model);
  const csv = csvFiles(model);
  const chartFile = (c: Chart): string => `charts/${c.id}.svg`;
  const blocks = buildDocument(model, charts, csv, chartFile);

  mkdirSync(path.join(out, 'charts'), { recursive: true });
  const files: string[] = [];
  const write = (name: string, content: string): void => {
    const file = path.join(out, name);
    writeFileSync(file, content);
    files.push(file);
  };
  write('report.md', renderMarkdown(blocks));
  write('report.html', renderHtml(blocks, reportTitle(model)));
  for (const c of charts.values()) write(chartFile(c), c.svg);
  for (const f of csv) write(f.name, f.content);
  return { files, model, warnings: loaded.warnings };
}
