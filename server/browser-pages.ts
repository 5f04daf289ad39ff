/**
 * The pages a coordinator serves over HTTP next to socket.io: `/join`, the browser client, and `/`, the live
 * dashboard over the read-only observer namespace (server/observer.ts); their bundles and tfjs's wasm binaries
 * under `/browser/` (built by scripts/build-browser.mjs into dist/browser/). Everything else is left to the
 * caller (a 404).
 *
 * Assets are read, hashed (SHA-256) and gzipped once (zlib, level 9; again only when the file on disk changes),
 * the first time a page or an asset is asked for. A browser that accepts gzip gets the gzipped bytes
 * (`Content-Encoding: gzip`, `Vary: Accept-Encoding`); every asset carries its hash as a strong `ETag`, one per
 * representation (`"<hash>"` for the bytes as built, `"<hash>-gz"` for the gzipped bytes: a strong validator names
 * the exact bytes, which differ), and an `If-None-Match` that names either gets a 304 with the tag of the
 * representation this request would get. The pages name their assets with the hash (`/browser/join.js?v=<hash>`), and such a
 * versioned URL is cached for a year (`immutable`): a reload fetches only the small page; an unversioned URL is
 * revalidated on every use (`no-cache`). The pages themselves are never cached, so a rebuilt client is picked up.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { constants as zlibConstants, gzip as gzipCallback } from 'node:zlib';

/** dist/browser, next to this module's dist/server. */
export const BROWSER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'browser');

const ASSETS: Record<string, string> = {
  'join.js': 'text/javascript; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'tfjs-backend-wasm.wasm': 'application/wasm',
  'tfjs-backend-wasm-simd.wasm': 'application/wasm',
  'tfjs-backend-wasm-threaded-simd.wasm': 'application/wasm',
};
/** The wasm binaries tfjs's wasm backend may fetch (the join page passes their versioned URLs to setWasmPaths). */
const WASM = Object.keys(ASSETS).filter((n) => n.endsWith('.wasm'));

const gzip = promisify(gzipCallback);

/** One asset, ready to serve: its bytes, their gzip (when smaller) and their hash. */
export interface BrowserAsset {
  name: string;
  type: string;
  body: Buffer;
  gzipped: Buffer | undefined;
  /** The first 16 hex digits of the bytes' SHA-256: the `v` of versioned URLs and the `ETag`. */
  hash: string;
}

/** Prepared assets, by name, with the size and modification time they were prepared from. */
const prepared = new Map<string, { stamp: string; asset: Promise<BrowserAsset> }>();

/**
 * An asset of dist/browser ready to serve, prepared once (read, hashed, gzipped) and again only when the file
 * changes; undefined when `name` is not an asset or the file is missing (the client is not built).
 */
export async function browserAsset(name: string, dir = BROWSER_DIR): Promise<BrowserAsset | undefined> {
  const type = ASSETS[name];
  if (type === undefined) return undefined;
  const file = path.join(dir, name);
  let stamp: string;
  try {
    const st = await stat(file);
    stamp = `${file}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
  const known = prepared.get(name);
  if (known?.stamp === stamp) return known.asset;
  const asset = (async (): Promise<BrowserAsset> => {
    const body = await readFile(file);
    const packed = await gzip(body, { level: zlibConstants.Z_BEST_COMPRESSION });
    return { name, type, body, gzipped: packed.length < body.length ? packed : undefined, hash: createHash('sha256').update(body).digest('hex').slice(0, 16) };
  })();
  prepared.set(name, { stamp, asset });
  // A failed preparation (the file vanished mid-build) is retried on the next request.
  asset.catch(() => prepared.get(name)?.asset === asset && prepared.delete(name));
  return asset;
}

/** The versioned URL of an asset (`/browser/<name>?v=<hash>`), or the plain one when it is not built. */
async function assetUrl(name: string): Promise<string> {
  const a = await browserAsset(name);
  return a === undefined ? `/browser/${name}` : `/browser/${name}?v=${a.hash}`;
}

/** Whether an Accept-Encoding header admits gzip (`gzip` or `*`, without q=0). */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  let gz: number | undefined;
  let star: number | undefined;
  for (const part of value.split(',')) {
    const [coding = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    const weight = Number.isFinite(q) ? q : 0;
    if (coding.trim() === 'gzip' || coding.trim() === 'x-gzip') gz = weight;
    else if (coding.trim() === '*') star = weight;
  }
  return (gz ?? star ?? 0) > 0;
}

/** The strong ETag of an asset's bytes as built, or of their gzip. */
export function assetEtag(hash: string, gzipped: boolean): string {
  return gzipped ? `"${hash}-gz"` : `"${hash}"`;
}

/**
 * Whether an If-None-Match header names this content: either representation's tag (both decode to the same bytes,
 * so a copy under either is current), weak or strong, or `*`.
 */
export function matchesEtag(header: string | undefined, hash: string): boolean {
  if (header === undefined) return false;
  const tags = [assetEtag(hash, false), assetEtag(hash, true)];
  return header.split(',').some((t) => {
    const tag = t.trim().replace(/^W\//, '');
    return tag === '*' || tags.includes(tag);
  });
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem}label{display:block;margin:.35rem 0}input,select{font:inherit;padding:.2rem .35rem}
fieldset{border:1px solid #ccd;border-radius:6px;margin:.8rem 0}button{font:inherit;padding:.35rem 1rem}
#error{background:#fde8e8;border:1px solid #e0a0a0;border-radius:6px;padding:.6rem .8rem;color:#7a1010}
#connection{background:#fff6dd;border:1px solid #e5c670;border-radius:6px;padding:.5rem .8rem}
#test-hook{background:#eef;border:1px dashed #88a;border-radius:6px;padding:.4rem .8rem}
code.key{display:block;word-break:break-all;user-select:all;background:#f5f6f8;border-radius:6px;padding:.4rem .6rem;font-size:13px}
pre{background:#f5f6f8;border-radius:6px;padding:.6rem;max-height:22rem;overflow:auto;font-size:12.5px}
.status{font-weight:600}`;

/** The URLs a page loads its assets from (versioned by hash where the asset is built). */
export interface PageAssets {
  /** The page's module script. */
  script: string;
  /** tfjs's wasm binaries by file name (the join page only). */
  wasm?: Record<string, string>;
}

/** The `/join` page: the form, the client's identity key, status, connection, rounds and log. */
export function joinPage(assets: PageAssets = { script: '/browser/join.js' }): string {
  // The wasm binaries' URLs, for setWasmPaths: inert JSON (no '<' can end the script element early).
  const wasm = assets.wasm !== undefined ? `<script type="application/json" id="rfl-wasm-paths">${JSON.stringify(assets.wasm).replace(/</g, '\\u003c')}</script>\n` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>robust-fl — join as a browser client</title><style>${STYLE}</style></head>
<body>
<h1>Join a robust-fl federation from this browser</h1>
<div id="test-hook" hidden></div>
<form id="join-form">
<fieldset><legend>Coordinator</legend>
<label>Coordinator URL <input id="url" size="40" placeholder="this page's origin"></label>
<label>Token <input id="token" type="password" autocomplete="off" placeholder="not needed with an enrolment list"></label>
<label>Client id <input id="clientId" required autocapitalize="off" autocomplete="off" spellcheck="false"></label>
<label>Compute backend <select id="backend"><option value="auto">automatic</option><option>webgl</option><option>wasm</option><option>cpu</option></select></label>
<input id="rounding" type="hidden" value="stochastic">
</fieldset>
<fieldset><legend>Identity</legend>
<p>This browser keeps an Ed25519 identity key per client id (in IndexedDB, for this page's address). A coordinator with an enrolment list admits it only once the operator has added this public key:</p>
<button type="button" id="show-identity">Show the identity key</button>
<code id="identity" class="key">—</code>
<p>Enrolment entry: <code id="enrol-line" class="key">—</code></p>
</fieldset>
<fieldset><legend>Local data</legend>
<label>Source <select id="source"><option value="demo">embedded demo split</option><option value="idx">IDX files</option><option value="png">a folder of PNGs with labels.csv</option></select></label>
<label>Demo split: part <input id="part" type="number" min="0" value="0" size="4"> of <input id="clients" type="number" min="1" value="5" size="4"> clients,
 <input id="count" type="number" min="1" value="300" size="6"> images, seed <input id="seed" type="number" value="3" size="6">, split seed <input id="splitSeed" type="number" value="5" size="6">, shared set <input id="sharedSetSize" type="number" min="0" value="8" size="4"></label>
<label>IDX images <input id="idx-images" type="file"></label>
<label>IDX labels <input id="idx-labels" type="file"></label>
<label>PNG folder <input id="png-folder" type="file" webkitdirectory multiple> (where the browser cannot pick folders: the PNGs and their labels.csv, picked together)</label>
</fieldset>
<button type="submit">Join</button>
</form>
<p>Status: <span id="status" class="status">idle</span></p>
<div id="connection" role="status" aria-live="polite" hidden></div>
<p>Compute: <span id="backend-line">—</span></p>
<div id="error" role="alert" hidden></div>
<h2>Rounds</h2><pre id="rounds"></pre>
<h2>Log</h2><pre id="log"></pre>
${wasm}<script type="module" src="${assets.script}"></script>
</body></html>
`;
}

const DASHBOARD_STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1.2rem;color:#1d2330;background:#f7f8fa}
h1{font-size:1.3rem;margin:.2rem 0 .8rem}section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:.7rem 1rem;margin:.6rem 0}
.grid{display:grid;grid-template-columns:minmax(16rem,1fr) 2fr;gap:.8rem}table{border-collapse:collapse}
td,th{padding:.15rem .6rem;text-align:left;border-bottom:1px solid #eef0f3;font-variant-numeric:tabular-nums}
#charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-weight:600;margin-bottom:.2rem}
.bar{display:flex;height:18px;border-radius:4px;overflow:hidden;max-width:40rem}.bar span{display:block}
.legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:.8rem}.legend i{display:inline-block;width:.8rem;height:.8rem;margin-right:.3rem;border-radius:2px}
#progress{font-size:1.1rem;font-weight:600}#conn{float:right;color:#555}
@media (max-width:40rem){.grid{grid-template-columns:1fr}svg{max-width:100%;height:auto}}`;

/** The dashboard page `/` (with the observer namespace), or a page that says the coordinator has none. */
export function dashboardPage(observing: boolean, assets: PageAssets = { script: '/browser/dashboard.js' }): string {
  const body = observing
    ? `<h1>robust-fl coordinator <span id="conn">connecting…</span></h1>
<div class="grid"><section><h2>Run</h2><table id="config"></table></section>
<section><h2>Progress</h2><p id="progress">—</p><p id="clients">—</p><h3>Time split of the last round</h3><div id="split"></div></section></div>
<section><div id="charts"></div></section>
<section><h2>Rounds</h2><table><thead id="rounds-head"></thead><tbody id="rounds"></tbody></table></section>
<script type="module" src="${assets.script}"></script>`
    : '<h1>robust-fl coordinator</h1><p>This coordinator has no observer token, so no live dashboard. Browser clients join at <a href="/join">/join</a>.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>robust-fl — dashboard</title><style>${DASHBOARD_STYLE}</style></head><body>
${body}
</body></html>
`;
}

const COMMON = { 'x-content-type-options': 'nosniff' } as const;

function send(res: ServerResponse, status: number, type: string, body: string): void {
  // Pages name their assets by hash, so they are never cached (a rebuilt client is picked up at once).
  res.writeHead(status, { ...COMMON, 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}

/** Answers with an asset: gzipped when accepted, 304 when the browser has it, cached long when versioned. */
function sendAsset(req: IncomingMessage, res: ServerResponse, a: BrowserAsset, version: string | null): void {
  const gzipped = a.gzipped !== undefined && acceptsGzip(req.headers['accept-encoding']);
  const etag = assetEtag(a.hash, gzipped);
  const headers: Record<string, string | number> = {
    ...COMMON,
    'content-type': a.type,
    etag,
    vary: 'Accept-Encoding',
    // A URL with the current hash never changes; any other is checked against the ETag on every use.
    'cache-control': version === a.hash ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  if (matchesEtag(req.headers['if-none-match'], a.hash)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const body = gzipped ? a.gzipped! : a.body;
  if (gzipped) headers['content-encoding'] = 'gzip';
  headers['content-length'] = body.length;
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Answers a request for one of the browser pages; false when the path is not one of them. */
export function serveBrowserPage(req: IncomingMessage, res: ServerResponse, observing: boolean): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const url = new URL(req.url ?? '/', 'http://coordinator');
  let answer: Promise<void>;
  if (url.pathname === '/') {
    answer = assetUrl('dashboard.js').then((script) => send(res, 200, 'text/html; charset=utf-8', dashboardPage(observing, { script })));
  } else if (url.pathname === '/join' || url.pathname === '/join/') {
    answer = Promise.all([assetUrl('join.js'), Promise.all(WASM.map(async (n) => [n, await assetUrl(n)] as const))]).then(([script, wasm]) =>
      send(res, 200, 'text/html; charset=utf-8', joinPage({ script, wasm: Object.fromEntries(wasm) })),
    );
  } else {
    const m = /^\/browser\/([\w.-]+)$/.exec(url.pathname);
    if (m === null) return false;
    const name = m[1]!;
    answer = browserAsset(name).then((a) => {
      if (a === undefined) send(res, 404, 'text/plain; charset=utf-8', `not found: ${name} (the browser client is built by npm run build into dist/browser/)\n`);
      else sendAsset(req, res, a, url.searchParams.get('v'));
    });
  }
  answer.catch((err: unknown) => {
    if (res.headersSent) res.destroy();
    else send(res, 500, 'text/plain; charset=utf-8', `cannot serve ${url.pathname}: ${err instanceof Error ? err.message : String(err)}\n`);
  });
  return true;
}
