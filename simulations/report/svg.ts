/**
 * Renders a Vega-Lite spec to a standalone SVG string in Node: compile to Vega, run a headless view (renderer
 * `none`: no DOM and no canvas needed), serialise the scenegraph. Text is measured by Vega's estimate when no
 * canvas package is installed, which is close enough for labels and titles.
 */
import type { TopLevelSpec } from 'vega-lite';

/**
 * Numbers the SVG's ids from 0 within the chart. Vega counts gradients (`gradient_0`, `gradient_1`, …) over the
 * whole process, so without this the same chart drawn twice in one process (two reports) would differ.
 */
export function renumberSvgIds(svg: string): string {
  const ids = [...new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!))];
  const next = new Map<string, number>();
  const map = new Map<string, string>();
  for (const id of ids) {
    const m = /^(.*?)(\d+)$/.exec(id);
    if (m === null) continue;
    const k = next.get(m[1]!) ?? 0;
    next.set(m[1]!, k + 1);
    map.set(id, `${m[1]!}${k}`);
  }
  if (map.size === 0) return svg;
  const to = (id: string): string => map.get(id) ?? id;
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, a: string, id: string) => `${a}${to(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${to(id)})`)
    .replace(/(href=")#([^"]+)"/g, (_, a: string, id: string) => `${a}#${to(id)}"`);
}

/** The chart as SVG markup (one `<svg>` element, with its xmlns attributes and nothing external). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: programs that bundle the report code but never draw (the benchmark runner packed for a
  // GPU machine, bench/gpu/pack.sh) then need neither package.
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // Vega always declares the xlink namespace; drop it when unused so the only URL left is the SVG namespace.
    const bare = svg.replace(/\sxmlns:xlink="[^"]*"/, '');
    return renumberSvgIds(bare.includes('xlink:') ? svg : bare);
  } finally {
    // A view holds timers and listeners; finalising lets the process exit when the report is written.
    view.finalize();
  }
}
