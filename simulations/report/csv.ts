/**
 * CSV writing per RFC 4180: CRLF line ends, a field quoted when it holds a comma, a double quote, CR or LF,
 * with inner quotes doubled. Numbers are written as `String(x)`, JavaScript's shortest representation that
 * parses back to the same double, so every value in a CSV file round-trips exactly to the results file.
 */

/** A value a CSV field can hold; undefined and null are written as empty fields. */
export type CsvValue = string | number | boolean | undefined | null;

/** Separator of lists inside one field (cell ids, threat names). */
export const LIST_SEP = ';';

/** One field. */
export function csvField(v: CsvValue): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'string' ? v : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A whole file: the header row, then one line per row. */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
  return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}
