/**
 * Renders a Vega-Lite spec to a standalone SVG string in Node: compile to Vega, run a headless view (renderer
 * `none`: no DOM and no canvas needed), serialise the scenegraph. Text is measured by Vega's estimate when no
 * canvas package is installed, which is close enough for labels and titles.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

/** The chart as SVG markup (one `<svg>` element, with its xmlns attributes and nothing external). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // Vega always declares the xlink namespace; drop it when unused so the only URL left is the SVG namespace.
    const bare = svg.replace(/\sxmlns:xlink="[^"]*"/, '');
    return bare.includes('xlink:') ? svg : bare;
  } finally {
    // A view holds timers and listeners; finalising lets the process exit when the report is written.
    view.finalize();
  }
}
