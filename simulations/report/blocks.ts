/**
 * The report as a list of blocks, written once and rendered twice (markdown.ts, html.ts), so the Markdown and
 * the HTML always carry the same text and tables. Inline markup is limited to code spans (`like this`): ids and
 * file names go in them, which keeps underscores in ids from turning into emphasis in Markdown.
 */
import type { Chart } from './charts.js';

/** A table column. */
export interface Column {
  title: string;
  /** Numbers align right. */
  align?: 'left' | 'right';
}

/** One block of the report. */
export type Block =
  | { kind: 'heading'; level: 1 | 2 | 3; text: string; anchor: string }
  | { kind: 'paragraph'; text: string }
  | { kind: 'list'; items: string[] }
  | { kind: 'table'; columns: Column[]; rows: string[][] }
  /** `file`: where the SVG is written next to report.md, relative to it. */
  | { kind: 'chart'; chart: Chart; file: string };

/** A run of text, plain or code. */
export interface Span {
  code: boolean;
  text: string;
}

/** Splits on backticks: odd pieces are code spans. */
export function spans(text: string): Span[] {
  return text
    .split('`')
    .map((t, k) => ({ code: k % 2 === 1, text: t }))
    .filter((s) => s.text !== '');
}

/** Wraps a text in a code span (ids, file names, metric names). */
export function code(text: string): string {
  return `\`${text.replace(/`/g, "'")}\``;
}

/** A heading anchor: lowercase words joined by dashes. */
export function anchorOf(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/`/g, '')
      .replace(/[^\p{L}\p{N}]+/gu, '-')
      .replace(/^-+|-+$/g, '') || 'section'
  );
}

/** A heading block with its anchor. */
export function heading(level: 1 | 2 | 3, text: string): Block {
  return { kind: 'heading', level, text, anchor: anchorOf(text) };
}
