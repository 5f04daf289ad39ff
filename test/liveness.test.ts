/**
 * Stalls: a client that reconnects after the run gets run:end at once, and `rfl client` stops
 * with a named line and exit code 1 once the coordinator is gone for good (bounded retries), instead of retrying
 * forever. Real coordinator and sessions on port 0; the client CLI as a real child process.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { identityKeyPair } from '../shared/secagg/keys.js';
import { connect } from '../client/session.js';
import { LocalTrainer } from '../client/trainer.js';
import { startFederation } from './helpers/federation.js';
import { rawClient } from './helpers/raw-client.js';
import { closedPort } from './helpers/closed-port.js';

const data = makeSyntheticDataset({ count: 200, testCount: 40, seed: 5 });
const base = {
  numClients: 3,
  fraction: 1,
  rounds: 1,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean'],
  finalAttacks: ['clean'],
  seed: 4,
  method: 'fedavg',
};

describe('liveness', function () {
  this.timeout(120000);
  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
  });

  it('tells a client that connects after the last round that the run is over', async () => {
    const f = await startFederation(data, base);
    const late = identityKeyPair();
    f.coordinator.enrol('late', late.publicKey);
    const t = new LocalTrainer(data.train, [0, 1, 2]);
    try {
      await f.coordinator.run();
      const s = connect(f.url, { clientId: 'late', token: 'secret', identity: late, trainer: t, reconnection: false });
      const msg = await new Promise<{ rounds: number }>((resolve) => s.socket.once('run:end', (m: { rounds: number }) => resolve(m)));
      expect(msg).to.deep.equal({ rounds: 1 });
      s.close();
    } finally {
      t.dispose();
      await f.close();
    }
  });

  it('rfl client stops with a named line and exit code 1 when the coordinator does not come back', async () => {
    const port = await closedPort();
    const r = spawnSync(
      process.execPath,
      [
        path.resolve('dist/cli/rfl.js'),
        'client',
        '--server',
        `http://127.0.0.1:${port}`,
        '--embedded',
        '--partition',
        '0',
        '--max-retries',
        '1',
        '--identity-file',
        path.join(mkdtempSync(path.join(os.tmpdir(), 'rfl-live-')), 'c.key'),
      ],
      { encoding: 'utf8', timeout: 60000, env: { ...process.env, RFL_BACKEND: 'cpu' } },
    );
    expect(r.status, r.stderr).to.equal(1);
    const last = r.stderr.trim().split('\n').at(-1)!;
    expect(last).to.equal(
      `CoordinatorGoneError: the coordinator at http://127.0.0.1:${port} did not come back after 1 reconnection attempts (last: cannot connect to http://127.0.0.1:${port}: connection refused: nothing listens there (is the coordinator running, on this host and port?) [ECONNREFUSED]); start it, or check --server`,
    );
  });
});

describe('named endings and printable logs', function () {
  this.timeout(120000);

  it('rfl client with a wrong token stops with one named line and exit code 2, instead of retrying', async () => {
    const port = await closedPort();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-token-'));
    const coordinator = spawn(process.execPath, [path.resolve('dist/cli/rfl.js'), 'coordinator', '--tokens', 'good', '--port', String(port), '--run-dir', path.join(dir, 'run')], {
      env: { ...process.env, RFL_BACKEND: 'wasm' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    try {
      // Wait until it listens.
      await new Promise<void>((resolve) => {
        let text = '';
        coordinator.stderr!.on('data', (d: Buffer) => {
          text += d.toString();
          if (text.includes('listening on port')) resolve();
        });
      });
      const r = spawnSync(
        process.execPath,
        [path.resolve('dist/cli/rfl.js'), 'client', '--server', `http://127.0.0.1:${port}`, '--token', 'wrong', '--embedded', '--partition', '0', '--identity-file', path.join(dir, 'c.key')],
        { encoding: 'utf8', timeout: 60000, env: { ...process.env, RFL_BACKEND: 'wasm' } },
      );
      expect(r.status, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n').at(-1)).to.equal(
        `RefusedError: the coordinator at http://127.0.0.1:${port} refused client c: invalid token (fix: --token must be one of the coordinator's --tokens)`,
      );
    } finally {
      coordinator.kill('SIGKILL');
    }
  });

  it('logs an unexpected event name with its control characters escaped', async () => {
    const lines: string[] = [];
    // The coordinator's log line is the event the test waits for (no polling).
    let logged = (): void => undefined;
    const unexpected = new Promise<void>((resolve) => (logged = resolve));
    const log = (l: string): void => {
      lines.push(l);
      if (l.includes('unexpected event')) logged();
    };
    const f = await startFederation(data, base, { log }, false);
    const keys = identityKeyPair();
    f.coordinator.enrol('odd', keys.publicKey);
    try {
      const c = rawClient(f.url, 'odd', keys.publicKey, { kind: 'sign', with: keys });
      expect(await c.outcome).to.equal('accepted');
      c.socket.emit('evil\u0000name\u001b[31m' as never);
      await unexpected;
      c.socket.close();
      const line = lines.find((l) => l.includes('unexpected event'))!;
      expect(line).to.equal("client odd sent unexpected event 'evil\\x00name\\x1b[31m'; ignored");
    } finally {
      await f.close();
    }
  });
});
