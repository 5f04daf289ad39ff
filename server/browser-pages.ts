/**
 * The pages a coordinator serves over HTTP next to socket.io: `/join`, the browser client, and `/`, the live
 * dashboard over the read-only observer namespace (server/observer.ts); their bundles and tfjs's wasm binaries
 * under `/browser/` (built by scripts/build-browser.mjs into dist/browser/). Everything else is left to the
 * caller (a 404).
 */
import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/browser, next to this module's dist/server. */
export const BROWSER_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'browser');

const ASSETS: Record<string, string> = {
  'join.js': 'text/javascript; charset=utf-8',
  'dashboard.js': 'text/javascript; charset=utf-8',
  'tfjs-backend-wasm.wasm': 'application/wasm',
  'tfjs-backend-wasm-simd.wasm': 'application/wasm',
  'tfjs-backend-wasm-threaded-simd.wasm': 'application/wasm',
};

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:56rem;padding:0 1rem;color:#1d2330}
h1{font-size:1.4rem}label{display:block;margin:.35rem 0}input,select{font:inherit;padding:.2rem .35rem}
fieldset{border:1px solid #ccd;border-radius:6px;margin:.8rem 0}button{font:inherit;padding:.35rem 1rem}
#error{background:#fde8e8;border:1px solid #e0a0a0;border-radius:6px;padding:.6rem .8rem;color:#7a1010}
pre{background:#f5f6f8;border-radius:6px;padding:.6rem;max-height:22rem;overflow:auto;font-size:12.5px}
.status{font-weight:600}`;

/** The `/join` page: the form, the client's status and log. */
export function joinPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>robust-fl — join as a browser client</title><style>${STYLE}</style></head>
<body>
<h1>Join a robust-fl federation from this browser</h1>
<form id="join-form">
<fieldset><legend>Coordinator</legend>
<label>Coordinator URL <input id="url" size="40" placeholder="this page's origin"></label>
<label>Token <input id="token" type="password" autocomplete="off" required></label>
<label>Client id <input id="clientId" required></label>
<label>Compute backend <select id="backend"><option value="auto">automatic</option><option>webgl</option><option>wasm</option><option>cpu</option></select></label>
<input id="rounding" type="hidden" value="stochastic">
</fieldset>
<fieldset><legend>Local data</legend>
<label>Source <select id="source"><option value="demo">embedded demo split</option><option value="idx">IDX files</option><option value="png">a folder of PNGs with labels.csv</option></select></label>
<label>Demo split: part <input id="part" type="number" min="0" value="0" size="4"> of <input id="clients" type="number" min="1" value="5" size="4"> clients,
 <input id="count" type="number" min="1" value="300" size="6"> images, seed <input id="seed" type="number" value="3" size="6">, split seed <input id="splitSeed" type="number" value="5" size="6">, shared set <input id="sharedSetSize" type="number" min="0" value="8" size="4"></label>
<label>IDX images <input id="idx-images" type="file"></label>
<label>IDX labels <input id="idx-labels" type="file"></label>
<label>PNG folder <input id="png-folder" type="file" webkitdirectory multiple></label>
</fieldset>
<button type="submit">Join</button>
</form>
<p>Status: <span id="status" class="status">idle</span></p>
<p>Compute: <span id="backend-line">—</span></p>
<div id="error" role="alert" hidden></div>
<h2>Rounds</h2><pre id="rounds"></pre>
<h2>Log</h2><pre id="log"></pre>
<script type="module" src="/browser/join.js"></script>
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
#progress{font-size:1.1rem;font-weight:600}#conn{float:right;color:#555}`;

/** The dashboard page `/` (with the observer namespace), or a page that says the coordinator has none. */
export function dashboardPage(observing: boolean): string {
  const body = observing
    ? `<h1>robust-fl coordinator <span id="conn">connecting…</span></h1>
<div class="grid"><section><h2>Run</h2><table id="config"></table></section>
<section><h2>Progress</h2><p id="progress">—</p><p id="clients">—</p><h3>Time split of the last round</h3><div id="split"></div></section></div>
<section><div id="charts"></div></section>
<section><h2>Rounds</h2><table><thead id="rounds-head"></thead><tbody id="rounds"></tbody></table></section>
<script type="module" src="/browser/dashboard.js"></script>`
    : '<h1>robust-fl coordinator</h1><p>This coordinator has no observer token, so no live dashboard. Browser clients join at <a href="/join">/join</a>.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>robust-fl — dashboard</title><style>${DASHBOARD_STYLE}</style></head><body>
${body}
</body></html>
`;
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(body);
}

/** Answers a request for one of the browser pages; false when the path is not one of them. */
export function serveBrowserPage(req: IncomingMessage, res: ServerResponse, observing: boolean): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const url = new URL(req.url ?? '/', 'http://coordinator');
  if (url.pathname === '/') {
    send(res, 200, 'text/html; charset=utf-8', dashboardPage(observing));
    return true;
  }
  if (url.pathname === '/join' || url.pathname === '/join/') {
    send(res, 200, 'text/html; charset=utf-8', joinPage());
    return true;
  }
  const m = /^\/browser\/([\w.-]+)$/.exec(url.pathname);
  if (m === null) return false;
  const name = m[1]!;
  const type = ASSETS[name];
  const file = path.join(BROWSER_DIR, name);
  if (type === undefined || !existsSync(file)) {
    send(res, 404, 'text/plain; charset=utf-8', `not found: ${name} (the browser client is built by npm run build into dist/browser/)\n`);
    return true;
  }
  send(res, 200, type, readFileSync(file));
  return true;
}
