/**
 * A real redis-server for the queue tests (Debian's `redis-server`; `.ci/run` installs it when missing): started
 * on a port that was free a moment ago, without persistence (`--save '' --appendonly no`, so a restart loses the
 * queue, the harder case), bound only to loopback and to addresses of namespaces the test made. Never a system
 * Redis service.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedPort } from './closed-port.js';

/** A running test Redis. */
export interface TestRedis {
  port: number;
  /** `redis://<address>:<port>` for one of the bound addresses. */
  url(address?: string): string;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and addresses, empty. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  dispose(): Promise<void>;
}

/** Why redis-server cannot run here, or undefined when it can. */
export function redisMissing(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'redis-server is not installed (apt-get install -y redis-server; .ci/run installs it when missing)';
}

/** Starts redis-server bound to 127.0.0.1 and `extra` addresses. */
export async function startRedis(extra: readonly string[] = []): Promise<TestRedis> {
  const port = await closedPort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-redis-'));
  let proc: ChildProcess | undefined;
  const start = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...extra, '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--dir', dir, '--logfile', ''], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc = p;
      let out = '';
      const onData = (d: Buffer): void => {
        out += d.toString();
        if (/Ready to accept connections/.test(out)) {
          p.stdout.off('data', onData);
          // Keep draining, so a chatty server never blocks on a full pipe.
          p.stdout.resume();
          resolve();
        }
      };
      p.stdout.on('data', onData);
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      p.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready: ${out.slice(-400)}`)));
    });
  const stop = async (): Promise<void> => {
    const p = proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    await exited;
    proc = undefined;
  };
  await start();
  return {
    port,
    url: (address = '127.0.0.1') => `redis://${address}:${port}`,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
