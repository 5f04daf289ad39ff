/// <reference lib="dom" />
/**
 * The browser client behind the coordinator's `/join` page: the same `connect` and `LocalTrainer` as a Node client
 * (client/session.ts, client/trainer.ts), with the browser's compute backend (backend.ts), an identity kept in
 * IndexedDB (identity-store.ts) and local data from picked IDX files or the embedded demo split (data.ts). The
 * page's form gives the coordinator URL, the token and the client id; query parameters of the same names fill it
 * in, and `auto=1` joins at once. State for the page and for tests is on `window.rfl`.
 *
 * Phones lose their connection (a screen lock, a switch between Wi-Fi and mobile data): the page reconnects with
 * socket.io's backoff (0.5 s doubling to 10 s, at most `RECONNECT_ATTEMPTS` attempts in a row), says so on the page
 * while it does, and answers the coordinator's identity challenge again on every new connection (client/session.ts
 * signs each challenge it gets), so a reconnected page is drawn into later rounds like any proven client. A round
 * in progress when the connection dropped counts this client as a dropout, as it would a Node client's. A
 * coordinator that refuses a reconnection because it is full is asked again after a pause (`busyRetryMs`), and
 * those retries count against the same limit; leaving or joining again cancels a pending one.
 */
import nacl from 'tweetnacl';
import { connect, type ClientSession } from '../session.js';
import { LocalTrainer } from '../trainer.js';
import { fromHex, toHex } from '../../shared/secagg/encoding.js';
import { initBrowserBackend, type BrowserBackend, type WasmPaths } from './backend.js';
import { loadIdentity } from './identity-store.js';
import { demoData, idxData, pngFolderData, type FolderFile, type LocalData } from './data.js';

/** What the page shows and a test reads. */
export interface JoinState {
  status: 'idle' | 'starting' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'disconnected' | 'error' | 'finished';
  backend?: string;
  clientId?: string;
  /** The identity's Ed25519 public key, 64 hex digits: what an operator puts in the enrolment list. */
  identityPk?: string;
  /** The connection's state in words while it is not plainly connected (lost, reconnecting, reconnected), or ''. */
  connection: string;
  /** Connections re-established (and identity proven again) since the join. */
  reconnects: number;
  /** Rounds finished (completed or aborted), with their status. */
  rounds: { round: number; status: string }[];
  /** The current stage ('train', a secure-aggregation stage, or ''). */
  stage: string;
  error?: string;
  /** True once the client reached the stage of the test hook `testPauseAt`. */
  paused: boolean;
  log: string[];
}

/** Reconnection attempts in a row before the page gives up (with socket.io's backoff, about two minutes). */
export const RECONNECT_ATTEMPTS = 15;

/** The pause before asking a full coordinator again. */
export const BUSY_RETRY_MS = 5000;

const state: JoinState = { status: 'idle', connection: '', reconnects: 0, rounds: [], stage: '', paused: false, log: [] };
let session: ClientSession | undefined;
let identity: nacl.SignKeyPair | undefined;
/** The pending retry of a reconnection a full coordinator refused, with the session it is for. */
let busyRetry: { session: ClientSession; timer: ReturnType<typeof setTimeout> } | undefined;

/** Cancels the pending retry of `s` (of any session when undefined). */
function cancelBusyRetry(s?: ClientSession): void {
  if (busyRetry === undefined || (s !== undefined && busyRetry.session !== s)) return;
  clearTimeout(busyRetry.timer);
  busyRetry = undefined;
}

/** Ends the current session, if any, and any retry pending for it: nothing reconnects it afterwards. */
function endSession(): void {
  cancelBusyRetry();
  session?.close();
  session = undefined;
}

const $ = <T extends HTMLElement>(id: string): T | null => document.getElementById(id) as T | null;

function render(): void {
  const s = $('status');
  if (s !== null) s.textContent = state.status + (state.stage !== '' ? ` — ${state.stage}` : '');
  const e = $('error');
  if (e !== null) {
    e.textContent = state.error ?? '';
    e.hidden = state.error === undefined;
  }
  const r = $('rounds');
  if (r !== null) r.textContent = state.rounds.map((x) => `round ${x.round}: ${x.status}`).join('\n');
  const b = $('backend-line');
  if (b !== null) b.textContent = state.backend ?? '';
  const c = $('connection');
  if (c !== null) {
    c.textContent = state.connection;
    c.hidden = state.connection === '';
  }
  const k = $('identity');
  if (k !== null) k.textContent = state.identityPk ?? '—';
  const line = $('enrol-line');
  if (line !== null) line.textContent = state.identityPk !== undefined && state.clientId !== undefined ? JSON.stringify({ clientId: state.clientId, identityPk: state.identityPk }) : '—';
  const l = $('log');
  if (l !== null) l.textContent = state.log.slice(-200).join('\n');
}

function log(line: string): void {
  console.log(line);
  state.log.push(`${new Date().toISOString().slice(11, 19)} ${line}`);
  render();
}

/** A refusal in words a user can act on (the coordinator's codes: auth, version, sybil-cap, …). */
function plainError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (/invalid token/.test(msg)) return 'The coordinator did not accept this token. Check the token you were given and try again.';
  if (/not enrolled|enrolled with another/.test(msg))
    return `The coordinator's enrolment list does not hold this client id with this browser's identity key. Give the operator the enrolment entry shown under Identity, then join again. (${msg})`;
  if (/maximum of \d+ connections/.test(msg)) return `The coordinator is full; try again later. (${msg})`;
  if (/xhr poll error|websocket error|timeout/i.test(msg)) return `Could not reach the coordinator: ${msg}`;
  return msg;
}

/** Why a connection closed, in words (socket.io's disconnect reasons). */
function lostBecause(reason: string): string {
  const words: Record<string, string> = {
    'transport close': 'the connection closed',
    'transport error': 'a network error',
    'ping timeout': 'no answer from the coordinator',
    'forced close': 'the connection closed',
    'parse error': 'a garbled message',
  };
  return words[reason] ?? reason;
}

const clock = (): string => new Date().toISOString().slice(11, 19);

/** Options of a join (the form's fields). */
export interface JoinOptions {
  url: string;
  token: string;
  clientId: string;
  backend?: BrowserBackend;
  data:
    | { kind: 'demo'; count: number; seed: number; splitSeed: number; clients: number; part: number; sharedSetSize: number }
    | { kind: 'idx'; images: File; labels: File }
    | { kind: 'png'; files: FolderFile[] };
  rounding?: 'stochastic' | 'half-up';
  /** Reconnection attempts in a row before giving up (default `RECONNECT_ATTEMPTS`), retries of a full coordinator included. */
  maxReconnectAttempts?: number;
  /** The pause before asking a coordinator that was full again (default `BUSY_RETRY_MS`). */
  busyRetryMs?: number;
  /**
   * TEST HOOK, off unless set: the client stops answering (forever) at a stage, given as `stage` or `stage:phase`
   * (e.g. `collectMasked:model`), and `state.paused` turns true there; the browser test then closes the tab to
   * make a dropout at a known stage. The form never sets it: only the page's URL does (`?testPauseAt=…`), and the
   * page then says so in a banner. A client without it answers every stage.
   */
  testPauseAt?: string;
}

/** Joins a coordinator's rounds; resolves once the coordinator accepted this client. */
export async function join(o: JoinOptions): Promise<void> {
  try {
    endSession();
    joined = false;
    state.status = 'starting';
    state.error = undefined;
    state.connection = '';
    state.clientId = o.clientId;
    render();
    const choice = await initBrowserBackend(o.backend, wasmPaths());
    state.backend = choice.line;
    log(choice.line);
    const local: LocalData = o.data.kind === 'demo' ? demoData(o.data) : o.data.kind === 'idx' ? await idxData(o.data.images, o.data.labels) : await pngFolderData(o.data.files);
    log(`data: ${local.describe}`);
    const id = await loadIdentity(o.clientId);
    identity = id.identity;
    state.identityPk = toHex(identity.publicKey);
    log(`identity ${state.identityPk} (${id.created ? 'new, stored in IndexedDB' : 'from IndexedDB'})`);
    state.status = 'connecting';
    render();
    const trainer = new LocalTrainer(local.data, local.indices);
    const attempts = o.maxReconnectAttempts ?? RECONNECT_ATTEMPTS;
    const s = connect(o.url, {
      clientId: o.clientId,
      token: o.token === '' ? 'none' : o.token,
      identity,
      trainer,
      reconnection: true,
      maxReconnectAttempts: attempts,
      rounding: o.rounding ?? 'stochastic',
      log,
      beforeReply: ({ stage, round, phase }) => {
        state.stage = `round ${round}: ${stage}${phase !== '' ? ` (${phase})` : ''}`;
        if (o.testPauseAt !== undefined && (o.testPauseAt === stage || o.testPauseAt === `${stage}:${phase}`)) {
          state.paused = true;
          log(`test hook testPauseAt: stopped answering at ${stage}${phase !== '' ? ` (${phase})` : ''}`);
          return new Promise<'answer'>(() => undefined);
        }
        render();
        return 'answer';
      },
    });
    session = s;
    // Rejects when the page stops trying (out of attempts, or refused on a new connection) before the first join.
    const stopped = new Promise<never>((_, reject) => watchConnection(s, o.url, attempts, o.busyRetryMs ?? BUSY_RETRY_MS, reject));
    stopped.catch(() => undefined);
    // The session's validated notices only: a malformed round:end or run:end is logged and dropped there.
    s.on('round:end', (msg) => {
      state.rounds.push({ round: msg.round, status: msg.status });
      state.stage = '';
      render();
    });
    s.on('run:end', (msg) => {
      state.status = 'finished';
      state.connection = '';
      log(`the coordinator finished the run (${msg.rounds} rounds); leaving`);
      // Leave, as a Node client does, once the session's acknowledgement has gone out.
      setTimeout(() => {
        cancelBusyRetry(s);
        s.close();
      }, 0);
    });
    await Promise.race([s.ready, stopped]);
    joined = true;
    state.status = 'connected';
    state.connection = '';
    log(`joined ${o.url} as ${o.clientId}`);
  } catch (err) {
    if (err instanceof Stopped) throw err; // the page already shows why
    state.status = /token|refused/.test(String(err)) ? 'refused' : 'error';
    state.error = plainError(err);
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    endSession();
    throw err;
  }
}

/** True once the coordinator accepted this page's first connection; a later acceptance is a reconnection. */
let joined = false;

/** The page stopped trying to connect; `state` already says why. */
class Stopped extends Error {
  override readonly name = 'Stopped';
}

/**
 * Keeps the page's status and connection line current as the connection drops and comes back: socket.io
 * reconnects with backoff (up to `attempts` in a row); each new connection proves the identity again (the
 * session answers every `auth:challenge`), and only then is the page connected again. A refusal on a new
 * connection (the coordinator restarted without this client's token or enrolment) stops the retries, shown
 * plainly; so does running out of attempts.
 */
function watchConnection(s: ClientSession, url: string, attempts: number, busyRetryMs: number, stopped: (err: Stopped) => void): void {
  const socket = s.socket;
  let reason = '';
  let lastCause = '';
  /** Retries of a full coordinator since this session was last accepted. */
  let busyRetries = 0;
  const current = (): boolean => session === s;
  const stop = (status: JoinState['status'], error: string): void => {
    cancelBusyRetry(s);
    s.close();
    // A session the page already left or replaced changes nothing on the page.
    if (current()) {
      state.status = status;
      state.error = error;
      state.connection = '';
      state.stage = '';
      render();
    }
    stopped(new Stopped(error));
  };
  socket.on('auth:accepted', () => {
    busyRetries = 0;
    if (!joined) return;
    state.status = 'connected';
    state.error = undefined;
    state.reconnects++;
    state.connection = `Reconnected at ${clock()}; identity proven again.`;
    log('reconnected; identity proven again');
  });
  socket.on('disconnect', (why) => {
    state.stage = '';
    if (state.status === 'finished' || why === 'io client disconnect') return render();
    if (why === 'io server disconnect') {
      // The coordinator closed this connection on purpose (a newer connection of this identity, a refusal): socket.io
      // does not retry that.
      state.status = 'disconnected';
      state.connection = 'The coordinator closed this connection. Join again to take part in later rounds.';
      log('disconnected by the coordinator');
      return;
    }
    reason = lostBecause(why);
    state.status = 'reconnecting';
    state.connection = `Connection lost (${reason}). Reconnecting…`;
    log(`disconnected (${why}); reconnecting`);
  });
  socket.io.on('reconnect_attempt', (n) => {
    if (state.status !== 'reconnecting') return;
    state.connection = `Connection lost (${reason}). Reconnecting: attempt ${n} of ${attempts}…`;
    render();
  });
  socket.io.on('reconnect_error', (err) => {
    lastCause = err.message;
  });
  socket.io.on('reconnect_failed', () => {
    log(`gave up reconnecting after ${attempts} attempts`);
    stop(
      'disconnected',
      `Lost the connection to the coordinator at ${url} and could not reconnect after ${attempts} attempts (last: ${lastCause || 'no answer'}). Check this device's network, then join again.`,
    );
  });
  socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
    const code = err.data?.code;
    if (code === undefined) return; // the coordinator is unreachable: socket.io retries
    if (code === 'busy' && joined && current()) {
      // A full coordinator is a passing state (socket.io does not retry a refused handshake): ask again after a
      // pause, counted against the same limit as the reconnection attempts.
      if (busyRetries >= attempts) {
        log(`gave up: the coordinator was still full after ${attempts} attempts`);
        stop('disconnected', `The coordinator at ${url} stayed full after ${attempts} attempts to reconnect (${err.message}). Join again later.`);
        return;
      }
      busyRetries++;
      state.status = 'reconnecting';
      state.connection = `The coordinator is full; trying again in ${Math.round(busyRetryMs / 100) / 10} s (attempt ${busyRetries} of ${attempts})…`;
      log(`reconnection refused: the coordinator is full; retry ${busyRetries} of ${attempts} in ${busyRetryMs} ms`);
      cancelBusyRetry(s);
      busyRetry = {
        session: s,
        timer: setTimeout(() => {
          busyRetry = undefined;
          // Only the page's current session, still wanting to connect, asks again.
          if (current() && !socket.connected && state.status === 'reconnecting') socket.connect();
        }, busyRetryMs),
      };
      return;
    }
    // A refused handshake is not retried by socket.io, and would not pass on a retry.
    if (joined) log(`reconnection refused: ${err.message}`);
    stop('refused', plainError(err));
  });
  // Validated by the session (a malformed refusal arrives as one, saying so).
  s.on('auth:refused', (msg) => {
    if (!joined) return;
    log(`identity proof refused on reconnection: ${msg.message}`);
    stop('refused', plainError(new Error(msg.message)));
  });
}

/** tfjs's wasm binaries: the versioned URLs the join page lists, else the coordinator's /browser/ folder. */
function wasmPaths(): WasmPaths {
  const listed = $('rfl-wasm-paths')?.textContent;
  if (listed != null && listed !== '') {
    const paths = JSON.parse(listed) as Record<string, string>;
    return Object.fromEntries(Object.entries(paths).map(([name, url]) => [name, new URL(url, location.href).href]));
  }
  return new URL('/browser/', location.href).href;
}

/** Shows the identity key of the client id in the form (made and stored on first use), without joining. */
async function showIdentity(): Promise<void> {
  const clientId = ($<HTMLInputElement>('clientId')?.value ?? '').trim();
  if (clientId === '') throw new Error('give a client id: the identity key is kept per client id');
  const id = await loadIdentity(clientId);
  state.clientId = clientId;
  state.identityPk = toHex(id.identity.publicKey);
  log(`identity of ${clientId}: ${state.identityPk} (${id.created ? 'new, stored in IndexedDB' : 'from IndexedDB'})`);
}

/** Reads the form (or query parameters) and joins. */
function joinFromForm(): void {
  const get = (name: string): string => ($<HTMLInputElement>(name)?.value ?? '').trim();
  const images = $<HTMLInputElement>('idx-images')?.files?.[0];
  const labels = $<HTMLInputElement>('idx-labels')?.files?.[0];
  const source = get('source');
  const backend = get('backend');
  const opts: JoinOptions = {
    url: get('url') || location.origin,
    token: get('token'),
    clientId: get('clientId'),
    ...(backend !== '' && backend !== 'auto' ? { backend: backend as BrowserBackend } : {}),
    data:
      source === 'png'
        ? { kind: 'png', files: Array.from($<HTMLInputElement>('png-folder')?.files ?? []) }
        : source === 'idx'
          ? images !== undefined && labels !== undefined
            ? { kind: 'idx', images, labels }
            : (() => {
                throw new Error('pick an IDX images file and an IDX labels file');
              })()
          : {
              kind: 'demo',
              count: Number(get('count') || 300),
              seed: Number(get('seed') || 3),
              splitSeed: Number(get('splitSeed') || 5),
              clients: Number(get('clients') || 5),
              part: Number(get('part') || 0),
              sharedSetSize: Number(get('sharedSetSize') || 8),
            },
    ...(get('rounding') === 'half-up' ? { rounding: 'half-up' as const } : {}),
    ...(testPauseAt() !== undefined ? { testPauseAt: testPauseAt()! } : {}),
  };
  if (opts.clientId === '') throw new Error('give a client id');
  void join(opts).catch(() => undefined);
}

/** The test hook's stage, when the page's URL sets it (`?testPauseAt=…`); undefined on every normal page. */
function testPauseAt(): string | undefined {
  return new URLSearchParams(location.search).get('testPauseAt') ?? undefined;
}

function start(): void {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) {
    const el = $<HTMLInputElement>(k);
    if (el !== null && el.type !== 'file') el.value = v;
  }
  const hook = testPauseAt();
  const banner = $('test-hook');
  if (hook !== undefined && banner !== null) {
    banner.textContent = `Test hook on (testPauseAt=${hook} in the address): this client will stop answering at that stage. Remove it from the address for a normal client.`;
    banner.hidden = false;
  }
  $('show-identity')?.addEventListener('click', () => {
    showIdentity().catch((err: unknown) => {
      state.error = plainError(err);
      render();
    });
  });
  $('join-form')?.addEventListener('submit', (ev) => {
    ev.preventDefault();
    try {
      joinFromForm();
    } catch (err) {
      state.error = plainError(err);
      render();
    }
  });
  render();
  if (params.get('auto') === '1') {
    try {
      joinFromForm();
    } catch (err) {
      state.error = plainError(err);
      render();
    }
  }
}

/** The page's API: state, join, and the stored identities' Ed25519 (tweetnacl) for interoperability checks. */
const api = {
  state,
  join,
  /** Leaves: closes the session and cancels any pending retry, so nothing reconnects it. */
  leave: (): void => {
    if (session === undefined) return;
    endSession();
    state.status = 'disconnected';
    state.connection = '';
    state.stage = '';
    log('left');
  },
  /**
   * TEST HOOK: drops the transport under the session, as a network loss does (socket.io then reconnects with
   * backoff); false when not connected. Nothing on the page calls it.
   */
  testDropConnection: (): boolean => {
    if (session === undefined || !session.socket.connected) return false;
    session.socket.io.engine.close();
    return true;
  },
  /** The picked files' dataset summary (for checks against Node's loaders): shape, labels and pixel sum. */
  pickedDataSummary: async (kind: 'png' | 'idx'): Promise<{ count: number; height: number; width: number; channels: number; numClasses: number; labels: number[]; pixelSum: number }> => {
    const files = (id: string): File => {
      const f = $<HTMLInputElement>(id)?.files?.[0];
      if (f === undefined) throw new Error(`nothing picked in #${id}`);
      return f;
    };
    const { data } = kind === 'png' ? await pngFolderData(Array.from($<HTMLInputElement>('png-folder')?.files ?? [])) : await idxData(files('idx-images'), files('idx-labels'));
    return {
      count: data.count,
      height: data.height,
      width: data.width,
      channels: data.channels,
      numClasses: data.numClasses,
      labels: Array.from(data.labels),
      pixelSum: data.images.reduce((a, v) => a + v, 0),
    };
  },
  /** The public key (hex) of the identity stored for `clientId`, made on first use: what an operator enrols. */
  identity: async (clientId: string): Promise<string> => toHex((await loadIdentity(clientId)).identity.publicKey),
  /** An Ed25519 signature (hex) of `msgHex` by the identity stored for `clientId`. */
  signAs: async (clientId: string, msgHex: string): Promise<string> => toHex(nacl.sign.detached(fromHex(msgHex), (await loadIdentity(clientId)).identity.secretKey)),
  verify: (pkHex: string, msgHex: string, sigHex: string): boolean => nacl.sign.detached.verify(fromHex(msgHex), fromHex(sigHex), fromHex(pkHex)),
};
(globalThis as unknown as { rfl: typeof api }).rfl = api;
if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}
