/**
 * The error catalogue (shared/errors/catalogue.ts): every typed error carries a catalogued code and is a
 * `CodedError`, a refusal relayed from the peer keeps its code when the catalogue knows it, and what goes on the
 * wire is unchanged (code and message).
 */
import { expect } from 'chai';
import { CodedError, isErrorCode, peerErrorCode, PROTOCOL_ERROR_CODES, SECAGG_ERROR_CODES, DATA_ERROR_CODES, CLIENT_ERROR_CODES, RUN_ERROR_CODES } from '../shared/errors/catalogue.js';
import { CheckpointError } from '../server/checkpoint-error.js';
import { ListenError } from '../server/http-listen.js';
import { IdentityError } from '../client/identity-file.js';
import { ConnectError } from '../client/connect-error.js';
import { CoordinatorGoneError } from '../client/cli.js';
import { ProtocolError, toWireError } from '../shared/protocol/errors.js';
import { SecAggAbortedError, SecAggConfigError, SecAggProtocolError } from '../shared/secagg/errors.js';
import { DataError } from '../shared/data/dataset.js';
import { ConfigError } from '../shared/federated/errors.js';

describe('error catalogue', () => {
  it('every typed error is a CodedError whose code is catalogued, under its own name', () => {
    const errors = [
      new ProtocolError('timeout', 'late'),
      new SecAggProtocolError('bad key', { field: 'sPk' }),
      new SecAggConfigError('t', 'bad t'),
      new SecAggAbortedError({ stage: 'unmask', phase: 'model', attempt: 0, needed: 3, got: 2 }),
      new DataError('dataset-missing', 'no files'),
      new ConfigError('rounds', 'bad rounds'),
      new CodedError('stale-round', 'over'),
      new CheckpointError('runs/demo/checkpoint.bin', 'checksum mismatch'),
      new IdentityError('c.key: not an identity file'),
      new ListenError('cannot listen on 127.0.0.1:80'),
      new ConnectError('http://127.0.0.1:1', Object.assign(new Error('websocket error'), { type: 'TransportError' })),
      new CoordinatorGoneError('the coordinator did not come back'),
    ];
    expect(errors.map((e) => [e.name, e.code])).to.deep.equal([
      ['ProtocolError', 'timeout'],
      ['SecAggProtocolError', 'protocol'],
      ['SecAggConfigError', 'config'],
      ['SecAggAbortedError', 'secagg-aborted'],
      ['DataError', 'dataset-missing'],
      ['ConfigError', 'config'],
      ['Error', 'stale-round'],
      ['CheckpointError', 'checkpoint'],
      ['IdentityError', 'identity'],
      ['ListenError', 'listen'],
      ['ConnectError', 'unreachable'],
      ['CoordinatorGoneError', 'unreachable'],
    ]);
    for (const e of errors) {
      expect(e).to.be.instanceOf(CodedError);
      expect(e).to.be.instanceOf(Error);
      expect(isErrorCode(e.code), e.code).to.equal(true);
    }
  });

  it("each layer's codes are in the catalogue; unknown strings are not", () => {
    for (const c of [...PROTOCOL_ERROR_CODES, ...SECAGG_ERROR_CODES, ...DATA_ERROR_CODES, ...CLIENT_ERROR_CODES, ...RUN_ERROR_CODES, 'internal']) expect(isErrorCode(c), c).to.equal(true);
    for (const c of ['', 'Timeout', 'nope', 7, undefined, null]) expect(isErrorCode(c), String(c)).to.equal(false);
  });

  it("a peer's code is kept when catalogued, replaced by the fallback otherwise", () => {
    expect(peerErrorCode('not-enrolled', 'auth')).to.equal('not-enrolled');
    expect(peerErrorCode('made-up', 'auth')).to.equal('auth');
    expect(peerErrorCode(undefined, 'auth')).to.equal('auth');
  });

  it('the wire form of an error is its code and message; an uncoded error is internal', () => {
    expect(toWireError(new CodedError('remask-refused', 'never again'))).to.deep.equal({ code: 'remask-refused', message: 'never again' });
    expect(toWireError(new SecAggProtocolError('bad', { field: 'x' }))).to.deep.equal({ code: 'protocol', message: 'bad' });
    expect(toWireError(new Error('boom'))).to.deep.equal({ code: 'internal', message: 'boom' });
    expect(toWireError('text')).to.deep.equal({ code: 'internal', message: 'text' });
  });

  it("codes from outside the catalogue never reach the wire: Node's errno codes and a library's own go out as internal", () => {
    const enoent = Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT', errno: -2 });
    expect(toWireError(enoent)).to.deep.equal({ code: 'internal', message: "ENOENT: no such file or directory, open 'x'" });
    expect(toWireError(Object.assign(new Error('parse'), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' })).code).to.equal('internal');
    expect(toWireError(Object.assign(new Error('odd'), { code: 42 })).code).to.equal('internal');
    // An error that is not a CodedError but carries a catalogued code (from another realm, say) keeps it.
    expect(toWireError(Object.assign(new Error('late'), { code: 'timeout' }))).to.deep.equal({ code: 'timeout', message: 'late' });
    // Typed errors of every layer keep theirs.
    expect(toWireError(new CheckpointError('f', 'bad')).code).to.equal('checkpoint');
  });

  it('the error classes keep what rfl prints and how it exits: name, message, the fields at fault', () => {
    const listen = new ListenError('cannot listen on 127.0.0.1:80: port 80 needs privileges: choose a port above 1023 [EACCES]');
    expect(listen).to.include({ name: 'ListenError', message: 'cannot listen on 127.0.0.1:80: port 80 needs privileges: choose a port above 1023 [EACCES]' });
    expect(listen.fields).to.deep.equal(['port']);
    const checkpoint = new CheckpointError('runs/demo/checkpoint.bin', 'truncated');
    expect(checkpoint).to.include({ name: 'CheckpointError', message: 'runs/demo/checkpoint.bin: truncated', file: 'runs/demo/checkpoint.bin' });
    expect(checkpoint.fields).to.deep.equal(['resume']);
  });

  it('keeps a cause', () => {
    const cause = new Error('root');
    expect(new CodedError('auth', 'refused', { cause }).cause).to.equal(cause);
  });
});
