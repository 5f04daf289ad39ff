/** Checked conversion of command-line flag strings (node:util parseArgs gives strings). */
import { UsageError } from './usage-error.js';

/** The flag's value as an integer ≥ min; an error naming the flag otherwise. */
export function intFlag(name: string, value: string | undefined, min: number): number {
  const v = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isInteger(v) || v < min) {
    throw new UsageError(`--${name} ${value ?? ''}: expected an integer ≥ ${min}`, [name]);
  }
  return v;
}

/** The flag's value as a finite number in [min, max]; an error naming the flag otherwise. */
export function numberFlag(name: string, value: string | undefined, min: number, max = Infinity): number {
  const v = Number(value);
  if (value === undefined || value.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
    throw new UsageError(`--${name} ${value ?? ''}: expected a number in [${min}, ${max}]`, [name]);
  }
  return v;
}
