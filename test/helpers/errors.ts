import { expect } from 'chai';
import { DataError } from '../../shared/data/index.js';

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
