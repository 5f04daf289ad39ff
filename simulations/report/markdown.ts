/** Renders report blocks to GitHub-flavoured Markdown; charts become image links to their SVG files. */
import { spans, type Block } from './blocks.js';
import { figureTitle } from './charts.js';

/** Escapes the characters that Markdown would read as markup in plain text. */
function escapeText(t: string): string {
  return t.replace(/[\\*_[\]<>|]/g, (c) => `\\${c}`);
}

/** Inline text: code spans as is (a `|` escaped, since GFM tables split on it even inside code). */
function inline(text: string, inTable: boolean): string {
  return spans(text)
    .map((s) => {
      if (!s.code) return escapeText(s.text.replace(/\s*\n\s*/g, ' '));
      const body = inTable ? s.text.replace(/\|/g, '\\|') : s.text;
      return `\`${body}\``;
    })
    .join('');
}

/** The Markdown of the blocks. */
export function renderMarkdown(blocks: readonly Block[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    switch (b.kind) {
      case 'heading':
        out.push(`${'#'.repeat(b.level)} ${inline(b.text, false)}`);
        break;
      case 'paragraph':
        out.push(inline(b.text, false));
        break;
      case 'list':
        out.push(b.items.map((i) => `- ${inline(i, false)}`).join('\n'));
        break;
      case 'table': {
        const row = (cells: readonly string[]): string => `| ${cells.map((c) => inline(c, true) || ' ').join(' | ')} |`;
        out.push([row(b.columns.map((c) => c.title)), `|${b.columns.map((c) => (c.align === 'right' ? '---:' : '---')).join('|')}|`, ...b.rows.map(row)].join('\n'));
        break;
      }
      case 'chart':
        out.push(`![${escapeText(figureTitle(b.chart))}](${b.file})\n\n${inline(`${figureTitle(b.chart)}. ${b.chart.caption}`, false)}`);
        break;
    }
  }
  return out.join('\n\n') + '\n';
}
