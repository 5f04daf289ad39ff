/**
 * A client that cannot reach its coordinator says so, once, naming the address and the cause, and stops: the
 * client library's `ready` rejects with a `ConnectError` (code `unreachable`) when reconnection is off or its
 * attempts are spent, and `rfl simulate --url` against an address where nothing listens exits non-zero with one
 * line naming the address, within a bounded time (it used to hang on a promise that never settled, exit code 13).
 * The session hands its owner the coordinator's notices (`session.on`) only once they pass validation; a malformed
 * refusal is a refusal all the same.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import nacl from 'tweetnacl';
import { Server, type Socket } from 'socket.io';
import { connect, type ClientSession } from '../client/session.js';
import type { AuthRefused, RoundEnd, RunEnd } from '../shared/protocol/events.js';
import { ConnectError } from '../client/connect-error.js';
import type { Trainer } from '../client/trainer.js';
import { closedPort } from './helpers/closed-port.js';

/** A trainer never called: these clients never get as far as a round. */
const idle: Trainer = {
  train: () => Promise.reject(new Error('not called')),
  bvaInputs: () => Promise.reject(new Error('not called')),
  endRound: () => undefined,
};

const REFUSED = 'connection refused: nothing listens there (is the coordinator running, on this host and port?) [ECONNREFUSED]';

/** What `ready` settles to, or 'pending' if it has not within `ms`. */
async function settle(ready: Promise<void>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<string>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  try {
    return await Promise.race([
      ready.then(
        () => 'connected',
        (err: unknown) => err,
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('connection errors', function () {
  this.timeout(120000);

  it('connect() without reconnection rejects with a ConnectError naming the address and the cause', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const s = connect(url, { clientId: 'c', token: 't', identity: nacl.sign.keyPair(), trainer: idle, reconnection: false });
    try {
      const err = await settle(s.ready, 30000);
      expect(err).to.be.instanceOf(ConnectError);
      expect(err).to.include({ name: 'ConnectError', code: 'unreachable', url, message: `cannot connect to ${url}: ${REFUSED}` });
    } finally {
      s.close();
    }
  });

  it('connect() with bounded reconnection rejects once its attempts are spent', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const s = connect(url, { clientId: 'c', token: 't', identity: nacl.sign.keyPair(), trainer: idle, maxReconnectAttempts: 1 });
    try {
      const err = await settle(s.ready, 30000);
      expect(err).to.be.instanceOf(ConnectError);
      expect(err).to.include({ code: 'unreachable', message: `cannot connect to ${url}: ${REFUSED}` });
    } finally {
      s.close();
    }
  });

  describe('the coordinator’s notices', () => {
    /** A stand-in coordinator running `script` on each connection; the session's validated notices, recorded. */
    async function against(script: (socket: Socket) => void): Promise<{ s: ClientSession; seen: unknown[]; close: () => Promise<void> }> {
      const http = createServer();
      const server = new Server(http, { transports: ['websocket'] });
      server.on('connection', script);
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const s = connect(`http://127.0.0.1:${(http.address() as AddressInfo).port}`, { clientId: 'c', token: 't', identity: nacl.sign.keyPair(), trainer: idle, reconnection: false });
      const seen: unknown[] = [];
      s.on('auth:refused', (m: AuthRefused) => seen.push(['auth:refused', m]));
      s.on('round:end', (m: RoundEnd) => seen.push(['round:end', m]));
      s.on('run:end', (m: RunEnd) => seen.push(['run:end', m]));
      return {
        s,
        seen,
        close: async () => {
          s.close();
          await server.close();
        },
      };
    }

    it('hands on only validated round:end and run:end, and acknowledges only a valid run:end', async () => {
      const acked: string[] = [];
      let validAcked: () => void = () => undefined;
      const valid = new Promise<void>((resolve) => (validAcked = resolve));
      const t = await against((socket) => {
        socket.emit('auth:accepted');
        for (const m of [null, { round: 0, status: 'completed' }, { round: 2, status: 'aborted', reason: 'below the threshold' }]) socket.emit('round:end', m);
        socket.emit('run:end', { rounds: -1 }, () => acked.push('malformed'));
        socket.emit('run:end', { rounds: 2 }, () => {
          acked.push('valid');
          validAcked();
        });
      });
      try {
        await t.s.ready;
        await valid;
        // The session acknowledges, then notifies: by the time the acknowledgement is here, the listeners ran.
        expect(t.seen).to.deep.equal([
          ['round:end', { round: 2, status: 'aborted', reason: 'below the threshold' }],
          ['run:end', { rounds: 2 }],
        ]);
        expect(acked).to.deep.equal(['valid']);
        expect(t.s.roundsSeen()).to.equal(1);
      } finally {
        await t.close();
      }
    });

    for (const [notice, expected] of [
      [null, { code: 'auth', message: 'refused, with a malformed notice (no reason given)' }],
      [
        { code: 42, message: ['x'] },
        { code: 'auth', message: 'refused, with a malformed notice (no reason given)' },
      ],
      [
        { code: 'not-enrolled', message: 'client c is not enrolled' },
        { code: 'not-enrolled', message: 'client c is not enrolled' },
      ],
      [
        { code: 'no-such-code', message: 'whatever' },
        { code: 'auth', message: 'whatever' },
      ],
    ] as const) {
      it(`a refusal ${JSON.stringify(notice)} rejects ready and reaches the listeners as ${JSON.stringify(expected)}`, async () => {
        const t = await against((socket) => socket.emit('auth:refused', notice));
        try {
          const err = await settle(t.s.ready, 30000);
          expect(err).to.be.instanceOf(Error);
          expect(err).to.include({ code: expected.code, message: `coordinator refused the identity proof: ${expected.message}` });
          expect(t.seen).to.deep.equal([['auth:refused', expected]]);
        } finally {
          await t.close();
        }
      });
    }
  });

  it('rfl simulate --url with nothing listening there exits non-zero with one line naming the address', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-connect-'));
    try {
      const args = [path.resolve('dist/cli/rfl.js'), 'simulate', '--url', url, '--token', 't', '--clients', '2', '--rounds', '1', '--no-progress', '--out', path.join(dir, 'run')];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, RFL_BACKEND: 'wasm' } });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // Bounded: a hang (the old bug) is killed and fails the test rather than the suite's timeout.
      const killer = setTimeout(() => child.kill('SIGKILL'), 60000);
      const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (c, s) => resolve({ code: c, signal: s })));
      clearTimeout(killer);
      expect(signal, `killed after 60 s; stderr:\n${stderr}`).to.equal(null);
      expect(code, stderr).to.not.equal(0);
      expect(code, stderr).to.equal(1);
      const naming = stderr.split('\n').filter((l) => l.includes(url));
      expect(naming, stderr).to.deep.equal([`ConnectError: cannot connect to ${url}: ${REFUSED}`]);
      expect(stderr.trim().split('\n').at(-1)).to.equal(naming[0]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
