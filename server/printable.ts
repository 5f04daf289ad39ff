/** Text from a client made fit for a log line. */

/** An event name or URL fit for a log line: control characters shown as \\xNN, at most 64 characters. */
export function printable(event: string): string {
  const shown = event.slice(0, 64).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return event.length > 64 ? `${shown}…` : shown;
}
