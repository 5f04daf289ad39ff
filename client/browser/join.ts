/// <reference lib="dom" />
/**
 * The browser client behind the coordinator's `/join` page: the same `connect` and `LocalTrainer` as a Node client
 * (client/session.ts, client/trainer.ts), with the browser's compute backend (backend.ts), an identity kept in
 * IndexedDB (identity-store.ts) and local data from picked IDX files or the embedded demo split (data.ts). The
 * page's form gives the coordinator URL, the token and the client id; query parameters of the same names fill it
 * in, and `auto=1` joins at once. State for the page and for tests is on `window.rfl`.
 */
import nacl from 'tweetnacl';
import { connect, type ClientSession } from '../session.js';
import { LocalTrainer } from '../trainer.js';
import { fromHex, toHex } from '../../shared/secagg/encoding.js';
import { initBrowserBackend, type BrowserBackend } from './backend.js';
import { loadIdentity } from './identity-store.js';
import { demoData, idxData, pngFolderData, type FolderFile, type LocalData } from './data.js';

/** What the page shows and a test reads. */
export interface JoinState {
  status: 'idle' | 'starting' | 'connecting' | 'connected' | 'refused' | 'disconnected' | 'error' | 'finished';
  backend?: string;
  clientId?: string;
  identityPk?: string;
  /** Rounds finished (completed or aborted), with their status. */
  rounds: { round: number; status: string }[];
  /** The current stage ('train', a secure-aggregation stage, or ''). */
  stage: string;
  error?: string;
  /** True once the client reached its `pauseAt` stage. */
  paused: boolean;
  log: string[];
}

const state: JoinState = { status: 'idle', rounds: [], stage: '', paused: false, log: [] };
let session: ClientSession | undefined;
let identity: nacl.SignKeyPair | undefined;

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
  if (/not enrolled|enrol/.test(msg)) return `The coordinator does not know this client id: ${msg}`;
  if (/xhr poll error|websocket error|timeout/i.test(msg)) return `Could not reach the coordinator: ${msg}`;
  return msg;
}

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
  /**
   * Pause (never answer) at a stage, given as `stage` or `stage:phase` (e.g. `collectMasked:model`): for
   * demonstrations and tests of a tab that stops mid-round; `state.paused` turns true when it is reached.
   */
  pauseAt?: string;
}

/** Joins a coordinator's rounds; resolves once the coordinator accepted this client. */
export async function join(o: JoinOptions): Promise<void> {
  try {
    state.status = 'starting';
    state.error = undefined;
    state.clientId = o.clientId;
    render();
    const choice = await initBrowserBackend(o.backend, new URL('/browser/', location.href).href);
    state.backend = choice.line;
    log(choice.line);
    const local: LocalData = o.data.kind === 'demo' ? demoData(o.data) : o.data.kind === 'idx' ? await idxData(o.data.images, o.data.labels) : await pngFolderData(o.data.files);
    log(`data: ${local.describe}`);
    const id = await loadIdentity(o.clientId);
    identity = id.identity;
    state.identityPk = toHex(identity.publicKey);
    log(`identity ${state.identityPk.slice(0, 16)}… (${id.created ? 'new, stored in IndexedDB' : 'from IndexedDB'})`);
    state.status = 'connecting';
    render();
    const trainer = new LocalTrainer(local.data, local.indices);
    session = connect(o.url, {
      clientId: o.clientId,
      token: o.token,
      identity,
      trainer,
      reconnection: false,
      rounding: o.rounding ?? 'stochastic',
      log,
      beforeReply: ({ stage, round, phase }) => {
        state.stage = `round ${round}: ${stage}${phase !== '' ? ` (${phase})` : ''}`;
        if (o.pauseAt !== undefined && (o.pauseAt === stage || o.pauseAt === `${stage}:${phase}`)) {
          state.paused = true;
          log(`paused at ${stage}${phase !== '' ? ` (${phase})` : ''} (pauseAt)`);
          return new Promise<'answer'>(() => undefined);
        }
        render();
        return 'answer';
      },
    });
    session.socket.on('round:end', (msg) => {
      state.rounds.push({ round: msg.round, status: msg.status });
      state.stage = '';
      render();
    });
    session.socket.on('run:end', () => {
      state.status = 'finished';
      render();
    });
    session.socket.on('disconnect', (reason) => {
      if (state.status === 'connected') state.status = 'disconnected';
      log(`disconnected (${reason})`);
    });
    await session.ready;
    state.status = 'connected';
    log(`joined ${o.url} as ${o.clientId}`);
  } catch (err) {
    state.status = /token|refused/.test(String(err)) ? 'refused' : 'error';
    state.error = plainError(err);
    log(`error: ${err instanceof Error ? err.message : String(err)}`);
    session?.close();
    throw err;
  }
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
    ...(new URLSearchParams(location.search).get('pauseAt') !== null ? { pauseAt: new URLSearchParams(location.search).get('pauseAt')! } : {}),
  };
  if (opts.clientId === '') throw new Error('give a client id');
  void join(opts).catch(() => undefined);
}

function start(): void {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) {
    const el = $<HTMLInputElement>(k);
    if (el !== null && el.type !== 'file') el.value = v;
  }
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
  leave: (): void => session?.close(),
  /** The public key (hex) of the identity stored for `clientId`, made on first use: what an operator enrols. */
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
