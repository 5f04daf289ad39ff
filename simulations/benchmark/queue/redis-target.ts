/**
 * `--queue redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS): the Redis that holds the queue, as
 * ioredis connection options for BullMQ. Every connection waits through outages instead of failing its commands
 * (`maxRetriesPerRequest: null`, which BullMQ's workers require anyway), and reconnects quickly once Redis is back.
 */
import type { ConnectionOptions } from 'bullmq';
import { UsageError } from '../../../shared/util/usage-error.js';

/** Where the queue lives: BullMQ's connection options and the URL to show (without its password). */
export interface RedisTarget {
  connection: ConnectionOptions;
  /** The URL with any password replaced by `***`, for messages. */
  shown: string;
}

/** Reconnection delay after the n-th failed attempt: 250 ms more each time, at most 2 s (ms). */
export function reconnectDelayMs(attempt: number): number {
  return Math.min(250 * attempt, 2000);
}

/** Parses `--queue`'s value (`flag` names the option in errors). */
export function parseRedisTarget(url: string, flag = 'queue'): RedisTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--${flag} ${url}: not a URL; expected redis://host:port (e.g. redis://127.0.0.1:6379)`, [flag]);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--${flag} ${url}: expected a redis:// or rediss:// URL, got ${u.protocol}//`, [flag]);
  if (u.hostname === '') throw new UsageError(`--${flag} ${url}: no host; expected redis://host:port`, [flag]);
  const port = u.port === '' ? 6379 : Number(u.port);
  const dbText = u.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || db > 15) throw new UsageError(`--${flag} ${url}: the database /${dbText} is not an integer in [0, 15]`, [flag]);
  if (u.search !== '' || u.hash !== '') throw new UsageError(`--${flag} ${url}: query and fragment are not used; give redis://host:port[/db]`, [flag]);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const connection: ConnectionOptions = {
    host,
    port,
    db,
    ...(u.username !== '' ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password !== '' ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: { servername: host } } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: reconnectDelayMs,
  };
  const shown = `${u.protocol}//${u.username !== '' ? `${u.username}${u.password !== '' ? ':***' : ''}@` : u.password !== '' ? ':***@' : ''}${u.host}${db !== 0 ? `/${db}` : ''}`;
  return { connection, shown };
}
