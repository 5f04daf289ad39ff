/**
 * Renders report blocks to one self-contained HTML page: inline CSS, charts as inline SVG, no script and no
 * reference to anything outside the file (the only URLs are the SVG namespace attributes), so the page opens
 * offline, from an e-mail attachment or an archive, and shows every chart.
 */
import { spans, type Block } from './blocks.js';
import { figureTitle } from './charts.js';

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(t: string): string {
  return t.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Inline text with code spans. */
function inline(text: string): string {
  return spans(text)
    .map((s) => (s.code ? `<code>${escapeHtml(s.text)}</code>` : escapeHtml(s.text)))
    .join('');
}

const CSS = `
body { font: 14px/1.5 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222; margin: 0; background: #fafafa; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 64px; background: #fff; }
h1 { font-size: 26px; margin-top: 8px; }
h2 { font-size: 20px; border-bottom: 1px solid #ddd; padding-bottom: 4px; margin-top: 40px; }
h3 { font-size: 16px; margin-top: 28px; }
code { font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace; background: #f3f3f3; padding: 0 3px; border-radius: 3px; word-break: break-all; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; display: block; overflow-x: auto; }
th, td { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
th { background: #f3f3f3; text-align: left; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #fcfcfc; }
figure { margin: 12px 0 24px; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: #555; font-size: 13px; }
nav ol { columns: 2; font-size: 13px; }
nav a { color: #2a5db0; text-decoration: none; }
`;

/** Adds a role and a label to the root `<svg>` so screen readers announce the chart by its title. */
function labelSvg(svg: string, title: string): string {
  return svg.replace(/^<svg\b/, `<svg role="img" aria-label="${escapeHtml(title)}"`);
}

/**
 * Prefixes every id of an SVG (and the `url(#…)` and `href="#…"` references to it). Vega numbers its gradients
 * and clip paths from 0 in every chart, and inline SVGs share the page's id space, so without this the second
 * chart's `url(#gradient_0)` would paint with the first chart's gradient.
 */
export function scopeSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
  if (ids.size === 0) return svg;
  const local = (id: string): string => (ids.has(id) ? `${prefix}-${id}` : id);
  return svg
    .replace(/(\sid=")([^"]+)"/g, (_, a: string, id: string) => `${a}${local(id)}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id: string) => `url(#${local(id)})`)
    .replace(/(href=")#([^"]+)"/g, (_, a: string, id: string) => `${a}#${local(id)}"`);
}

/** The page. */
export function renderHtml(blocks: readonly Block[], title: string): string {
  const body: string[] = [];
  const toc = blocks.filter((b): b is Extract<Block, { kind: 'heading' }> => b.kind === 'heading' && b.level === 2);
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        body.push(`<h${b.level} id="${escapeHtml(b.anchor)}">${inline(b.text)}</h${b.level}>`);
        // The contents list follows the title, linking to in-page anchors only.
        if (b.level === 1 && toc.length > 0) body.push(`<nav><ol>${toc.map((h) => `<li><a href="#${escapeHtml(h.anchor)}">${inline(h.text)}</a></li>`).join('')}</ol></nav>`);
        break;
      case 'paragraph':
        body.push(`<p>${inline(b.text)}</p>`);
        break;
      case 'list':
        body.push(`<ul>${b.items.map((i) => `<li>${inline(i)}</li>`).join('')}</ul>`);
        break;
      case 'table': {
        const head = `<tr>${b.columns.map((c) => `<th>${inline(c.title)}</th>`).join('')}</tr>`;
        const rows = b.rows.map((r) => `<tr>${r.map((v, k) => `<td${b.columns[k]?.align === 'right' ? ' class="num"' : ''}>${inline(v)}</td>`).join('')}</tr>`);
        body.push(`<table>\n<thead>${head}</thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`);
        break;
      }
      case 'chart':
        body.push(
          `<figure id="chart-${escapeHtml(b.chart.id)}">\n${labelSvg(scopeSvgIds(b.chart.svg, `chart-${b.chart.id}`), figureTitle(b.chart))}\n<figcaption><strong>${escapeHtml(figureTitle(b.chart))}.</strong> ${inline(b.chart.caption)}</figcaption>\n</figure>`,
        );
        break;
    }
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body.join('\n')}
</main>
</body>
</html>
`;
}
