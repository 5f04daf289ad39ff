/// <reference lib="dom" />
/**
 * The coordinator's live dashboard (`/`): it joins the read-only observer namespace with the observer token (query
 * `token`, or the form) and shows the run's configuration, the round in progress and its current step (training,
 * key agreement, the secure model sum, the shared set, evaluation), clients connected, sampled and dropped, each
 * round's loss with clean and robust accuracy as charts, and the last round's time split. Plain DOM and SVG.
 */
import { io } from 'socket.io-client';
import type { ObservedRound, ObserverSnapshot } from '../../server/observer.js';

const state: { snapshot: ObserverSnapshot | null; error?: string; connected: boolean; lost: boolean } = { snapshot: null, connected: false, lost: false };
(globalThis as unknown as { rflDashboard: typeof state }).rflDashboard = state;

const $ = (id: string): HTMLElement => document.getElementById(id)!;
const esc = (s: string): string => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
const pct = (v: number | undefined): string => (v === undefined ? '—' : `${(100 * v).toFixed(1)} %`);
const PALETTE = ['#2f6fbf', '#d1495b', '#edae49', '#00798c', '#6a4c93', '#66a182'];

/** A line chart of series over rounds, as SVG. */
function lineChart(title: string, rounds: number[], series: { name: string; values: (number | null)[] }[], yMax?: number): string {
  const W = 420;
  const H = 200;
  const L = 44;
  const B = 28;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null));
  const top = yMax ?? Math.max(1e-9, ...all) * 1.1;
  const n = Math.max(rounds.length, 2);
  const x = (i: number): number => L + ((W - L - 10) * i) / (n - 1);
  const y = (v: number): number => H - B - ((H - B - 10) * v) / top;
  let svg = `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}"><rect width="${W}" height="${H}" fill="#fff"/>`;
  for (let k = 0; k <= 4; k++) {
    const v = (top * k) / 4;
    svg += `<line x1="${L}" x2="${W - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e6ea"/><text x="${L - 4}" y="${y(v) + 4}" font-size="10" text-anchor="end">${yMax === 1 ? `${Math.round(100 * v)}%` : v.toPrecision(2)}</text>`;
  }
  rounds.forEach((r, i) => (svg += `<text x="${x(i)}" y="${H - 10}" font-size="10" text-anchor="middle">${r}</text>`));
  series.forEach((s, si) => {
    const pts = s.values.map((v, i) => (v === null ? null : `${x(i)},${y(v)}`)).filter((p): p is string => p !== null);
    const c = PALETTE[si % PALETTE.length]!;
    if (pts.length > 1) svg += `<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(' ')}"/>`;
    for (const p of pts) svg += `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${c}"/>`;
    svg += `<text x="${L + 6 + 90 * si}" y="12" font-size="11" fill="${c}">● ${esc(s.name)}</text>`;
  });
  return `<figure><figcaption>${esc(title)}</figcaption>${svg + '</svg>'}</figure>`;
}

/** The last round's time split as one stacked bar. */
function timeSplit(r: ObservedRound | undefined): string {
  if (r === undefined) return '<p>No round finished yet.</p>';
  const parts = Object.entries(r.ms).filter(([k, v]) => k !== 'total' && v > 0);
  const total = r.ms['total'] ?? parts.reduce((a, [, v]) => a + v, 0);
  const sum = parts.reduce((a, [, v]) => a + v, 0) || 1;
  let bar = '<div class="bar">';
  parts.forEach(([k, v], i) => (bar += `<span style="width:${(100 * v) / sum}%;background:${PALETTE[i % PALETTE.length]}" title="${esc(k)}: ${v.toFixed(0)} ms"></span>`));
  bar += '</div><ul class="legend">';
  parts.forEach(([k, v], i) => (bar += `<li><i style="background:${PALETTE[i % PALETTE.length]}"></i>${esc(k)} ${v.toFixed(0)} ms</li>`));
  return `<p>Round ${r.round}: ${total.toFixed(0)} ms in all</p>${bar}</ul>`;
}

function render(): void {
  const s = state.snapshot;
  $('conn').textContent = state.error ?? (state.connected ? 'live' : state.lost ? 'connection lost; reconnecting…' : 'connecting…');
  if (s === null) return;
  $('config').innerHTML =
    Object.entries(s.config)
      .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`)
      .join('') + `<tr><th>secure aggregation</th><td>${s.secure ? 'yes' : 'no'}</td></tr>`;
  const last = s.rounds[s.rounds.length - 1];
  $('progress').textContent = s.finished
    ? `finished: ${s.rounds.length} of ${String(s.config['rounds'])} rounds`
    : s.current !== null
      ? `round ${s.current.round} of ${String(s.config['rounds'])} — step: ${s.current.phase}${s.current.stage !== '' ? ` — secure-aggregation stage: ${s.current.stage}` : ''}`
      : `waiting (${s.rounds.length} of ${String(s.config['rounds'])} rounds done)`;
  $('clients').textContent = `connected ${s.connected} · sampled ${s.current?.sampled ?? last?.sampled ?? 0} · dropped last round ${last !== undefined ? last.dropouts + last.secaggDropouts : 0}`;
  const rounds = s.rounds.map((r) => r.round);
  const evalNames = [...new Set(s.rounds.flatMap((r) => Object.keys(r.eval)))];
  $('charts').innerHTML =
    lineChart('Training loss per round', rounds, [{ name: 'loss', values: s.rounds.map((r) => r.trainLoss) }]) +
    lineChart(
      'Accuracy per round (clean and robust)',
      rounds,
      evalNames.map((name) => ({ name, values: s.rounds.map((r) => r.eval[name] ?? null) })),
      1,
    );
  $('split').innerHTML = timeSplit(last);
  $('rounds').innerHTML = s.rounds
    .map(
      (r) =>
        `<tr data-round="${r.round}"><td>${r.round}</td><td>${r.status}</td><td>${r.sampled}</td><td>${r.survivors ?? '—'}</td><td>${r.dropouts + r.secaggDropouts}</td><td>${r.trainLoss === null ? '—' : r.trainLoss.toFixed(4)}</td>${evalNames.map((n) => `<td>${pct(r.eval[n])}</td>`).join('')}</tr>`,
    )
    .join('');
  $('rounds-head').innerHTML = `<tr><th>round</th><th>status</th><th>sampled</th><th>survivors</th><th>dropped</th><th>loss</th>${evalNames.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>`;
}

function start(): void {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  if (token === '') {
    state.error = 'Give the observer token: open this page as /?token=… (the coordinator’s observer token).';
    render();
    return;
  }
  const socket = io(`${location.origin}/observer`, { auth: { token }, transports: ['websocket'], reconnectionDelayMax: 10_000 });
  socket.on('connect', () => {
    state.connected = true;
    state.error = undefined;
    render();
  });
  socket.on('connect_error', (err) => {
    state.error = /invalid observer token/.test(err.message) ? 'The coordinator did not accept this observer token.' : `Cannot reach the coordinator: ${err.message}`;
    render();
  });
  socket.on('disconnect', () => {
    state.connected = false;
    state.lost = true;
    render();
  });
  socket.on('observe:snapshot', (s: ObserverSnapshot) => {
    state.snapshot = s;
    render();
  });
  socket.on('observe:clients', (m: { connected: number }) => {
    if (state.snapshot !== null) state.snapshot.connected = m.connected;
    render();
  });
  socket.on('observe:round-start', (m: { round: number; sampled: number }) => {
    if (state.snapshot !== null) state.snapshot.current = { round: m.round, phase: 'train', stage: '', sampled: m.sampled };
    render();
  });
  socket.on('observe:phase', (m: { round: number; phase: string }) => {
    if (state.snapshot?.current != null) state.snapshot.current.phase = m.phase;
    render();
  });
  socket.on('observe:stage', (m: { round: number; stage: string }) => {
    if (state.snapshot?.current != null) state.snapshot.current.stage = m.stage;
    render();
  });
  socket.on('observe:round', (r: ObservedRound) => {
    if (state.snapshot !== null) {
      state.snapshot.rounds.push(r);
      state.snapshot.current = null;
    }
    render();
  });
  socket.on('observe:end', () => {
    if (state.snapshot !== null) state.snapshot.finished = true;
    render();
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
