/**
 * The coordinator's --config file is checked key by key (unknown keys and wrong types
 * are named errors, through the real `rfl coordinator` binary), a port in use is a named error, and HTTP requests
 * to paths other than socket.io's get a 404 instead of hanging.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { readFileConfig } from '../server/file-config.js';
import { Coordinator } from '../server/coordinator.js';
import { ConfigError } from '../shared/federated/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-cfg-'));
const file = (name: string, value: unknown): string => {
  const f = path.join(dir, name);
  writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
  return f;
};
const refusal = (value: unknown): string => {
  try {
    readFileConfig(file('c.json', value));
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  return 'accepted';
};

describe('coordinator configuration and listening', function () {
  this.timeout(60000);

  it('names the field of a wrong type or an unknown key in the --config file', () => {
    expect(refusal({ tokens: 'demo' })).to.match(/field "tokens": .*expected array/i);
    expect(refusal({ port: 'abc' })).to.match(/field "port": .*expected number/i);
    expect(refusal({ secure: 'no' })).to.match(/field "secure": .*expected boolean/i);
    expect(refusal({ tokens: ['a'], colour: 'red' })).to.match(/unrecognized key.*"colour" \(known: federated, secure, secagg/i);
    expect(refusal({ timeoutsMs: { trian: 5 } })).to.match(/field "timeoutsMs": .*"trian"/);
    expect(refusal({ timeoutsMs: { train: -5 } })).to.match(/field "timeoutsMs\.train"/);
    expect(refusal('{ "tokens": [')).to.match(/not valid JSON/);
    expect(readFileConfig(file('ok.json', { tokens: ['a', 'b'], port: 0, secure: true, timeoutsMs: { train: 120000, auth: 5000 } }))).to.deep.equal({
      tokens: ['a', 'b'],
      port: 0,
      secure: true,
      timeoutsMs: { train: 120000, auth: 5000 },
    });
  });

  it('rfl coordinator prints a bad config file as one named line and exits 2', () => {
    const r = spawnSync(process.execPath, [path.resolve('dist/cli/rfl.js'), 'coordinator', '--config', file('demo.json', { tokens: 'demo' })], { encoding: 'utf8', timeout: 30000 });
    expect(r.status).to.equal(2);
    expect(r.stderr.trim().split('\n')).to.have.length(1);
    expect(r.stderr).to.match(/^ConfigError: --config .*demo\.json: field "tokens"/);
  });

  it('answers unknown HTTP paths with 404 and names a port in use', async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    const data = makeSyntheticDataset({ count: 100, testCount: 20, seed: 1 });
    const c = new Coordinator({
      federated: { numClients: 2, fraction: 1, rounds: 1, sharedSetSize: 8, seed: 1, method: 'fedavg' },
      data,
      tokens: new Set(['t']),
      runDir: mkdtempSync(path.join(dir, 'run-')),
      log: () => undefined,
    });
    const port = await c.listen(0);
    try {
      const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/admin', method: 'GET' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ code: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
      expect(status.code).to.equal(404);
      expect(status.body).to.match(/^not found: \/admin/);
      // Another server on the same port: listening is refused with a named error.
      const c2 = new Coordinator({
        federated: { numClients: 2, fraction: 1, rounds: 1, sharedSetSize: 8, seed: 1, method: 'fedavg' },
        data,
        tokens: new Set(['t']),
        runDir: mkdtempSync(path.join(dir, 'run-')),
        log: () => undefined,
      });
      let err: Error | undefined;
      try {
        await c2.listen(port);
      } catch (e) {
        err = e as Error;
      }
      expect(err?.name).to.equal('ListenError');
      expect(err?.message).to.equal(`cannot listen on 127.0.0.1:${port}: port ${port} is in use: choose another --port, or 0 for a free one [EADDRINUSE]`);
      await c2.close();
    } finally {
      await c.close();
    }
  });
});
