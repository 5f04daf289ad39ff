import { expect } from 'chai';
import { DataError } from '../../shared/data/index.js';
import { ConfigError } from '../../shared/federated/errors.js';

/** Asserts that `fn` throws a DataError with the given code whose message matches `pattern`. */
export function expectDataError(fn: () => unknown, code: DataError['code'], pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a DataError').to.be.instanceOf(DataError);
  expect((caught as DataError).code).to.equal(code);
  expect((caught as DataError).message).to.match(pattern);
}

/** Runs `fn`, asserting it throws a ConfigError (code 'config'); returns the error. */
export function thrownConfigError(fn: () => unknown): ConfigError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, 'expected a ConfigError').to.be.instanceOf(ConfigError);
  const e = caught as ConfigError;
  expect(e.code).to.equal('config');
  return e;
}

/** Asserts that `fn` throws a ConfigError naming exactly `fields` whose message matches every pattern. */
export function expectConfigError(fn: () => unknown, fields: string[], ...patterns: RegExp[]): ConfigError {
  const e = thrownConfigError(fn);
  expect(e.fields, e.message).to.deep.equal(fields);
  for (const p of patterns) expect(e.message).to.match(p);
  return e;
}
