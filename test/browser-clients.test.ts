/**
 * Browser clients in a real Chromium (playwright-core driving Debian's /usr/bin/chromium): the coordinator's
 * `/join` page with the esbuild bundle (dist/browser/), tfjs's wasm backend with the project's kernels, identities
 * in IndexedDB. Three pages and two Node clients run two secure fed-bva rounds whose final weights equal an
 * all-Node run with the same seeds; a page closed during the masked-input stage of a SecAgg+ round is a dropout
 * the round recovers from, with the same result as a Node client dropping there; a wrong token gets a plain
 * message; a page whose connection drops reconnects, proves its identity again and takes part in the next round;
 * a page that finds the coordinator full on reconnecting retries a bounded number of times, and leaving cancels a
 * pending retry; a malformed round:end or run:end from the coordinator is dropped, not acted on;
 * Ed25519 keys and signatures interoperate between the page and Node both ways.
 * Everything runs on loopback, port 0; no step waits on the clock (the rounds wait on events).
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as os from 'node:os';
import * as path from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io } from 'socket.io-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import nacl from 'tweetnacl';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { loadImageFolder } from '../shared/data/images.js';
import { fromHex, toHex } from '../shared/secagg/encoding.js';
import { ed25519Sign, ed25519Verify } from '../shared/secagg/primitives.js';
import { unpack } from '../shared/protocol/wire.js';
import { connect, type ClientSession } from '../client/session.js';
import { startFederation, type Federation } from './helpers/federation.js';
import type { RoundMetrics } from '../server/coordinator.js';
import type { CoordinatorOptions } from '../server/coordinator-options.js';
import { BROWSER_DIR, serveBrowserPage } from '../server/browser-pages.js';
import type { CodedError } from '../shared/errors/catalogue.js';

/** Where CI's chromium is (.ci/run installs Debian's package when it is missing). */
export const CHROMIUM = process.env['RFL_CHROMIUM'] ?? '/usr/bin/chromium';

const COUNT = 300;
const DATA_SEED = 3;
const data = makeSyntheticDataset({ count: COUNT, seed: DATA_SEED });
const base = {
  numClients: 5,
  fraction: 1,
  rounds: 2,
  localEpochs: 1,
  batchSize: 32,
  lr: 0.05,
  sharedSetSize: 8,
  evalEvery: 1,
  evalAttacks: ['clean', 'fgsm'],
  finalAttacks: ['clean', 'fgsm'],
  seed: 5,
  method: 'fed-bva',
};
/** Where the dashboard's screenshot goes (RFL_SCREENSHOT_DIR, else a fresh temporary folder). */
const shotDir = (): string => process.env['RFL_SCREENSHOT_DIR'] ?? mkdtempSync(path.join(os.tmpdir(), 'rfl-dashboard-'));

/** The page's API (client/browser/join.ts), as the test calls it inside the page. */
interface PageApi {
  state: {
    status: string;
    rounds: { round: number; status: string }[];
    stage: string;
    error?: string;
    paused: boolean;
    backend?: string;
    identityPk?: string;
    connection: string;
    reconnects: number;
    log: string[];
  };
  testDropConnection(): boolean;
  join(o: unknown): Promise<void>;
  leave(): void;
  identity(clientId: string): Promise<string>;
  signAs(clientId: string, msgHex: string): Promise<string>;
  pickedDataSummary(kind: 'png' | 'idx'): Promise<{ count: number; height: number; width: number; channels: number; numClasses: number; labels: number[]; pixelSum: number }>;
  verify(pkHex: string, msgHex: string, sigHex: string): boolean;
}
type WithApi = typeof globalThis & { rfl: PageApi; rflDashboard: { snapshot: { rounds: { round: number }[]; finished: boolean } | null }; rflTextsSeen: string[] };

/**
 * Records every text the element `#id` shows from now on (a MutationObserver on its text nodes), in the page's
 * `rflTextsSeen`: what the page displayed, not what its scripts hold.
 */
async function recordTexts(page: Page, id: string): Promise<void> {
  await page.evaluate((elementId) => {
    const seen: string[] = [];
    (globalThis as WithApi).rflTextsSeen = seen;
    const el = document.getElementById(elementId)!;
    seen.push(el.textContent ?? '');
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'characterData') seen.push(r.target.textContent ?? '');
        for (const n of r.addedNodes) seen.push(n.textContent ?? '');
      }
    }).observe(el, { childList: true, characterData: true, subtree: true });
  }, id);
}
const textsSeen = (page: Page): Promise<string[]> => page.evaluate(() => (globalThis as WithApi).rflTextsSeen);

/** Fails on anything in an observer message that could carry an update, a share or a key. */
function assertSummaryOnly(v: unknown, where: string): void {
  if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) throw new Error(`${where}: binary data sent to an observer`);
  if (typeof v === 'string') {
    if (v.length > 200 || /[0-9a-f]{32,}/i.test(v)) throw new Error(`${where}: a long or key-like string sent to an observer`);
  } else if (Array.isArray(v)) {
    v.forEach((x, i) => {
      if (typeof x !== 'object' || x === null) throw new Error(`${where}[${i}]: an array of values sent to an observer`);
      assertSummaryOnly(x, `${where}[${i}]`);
    });
  } else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) assertSummaryOnly(x, `${where}.${k}`);
}

const maxDiff = (a: Float32Array, b: Float32Array): number => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

async function run(f: Federation): Promise<RoundMetrics[]> {
  const rounds: RoundMetrics[] = [];
  await f.coordinator.run({ onRound: (m) => rounds.push(m) });
  return rounds;
}

let reference: Promise<Float32Array> | undefined;
/** The final weights of the all-Node run of `base` (5 Node clients, same seeds), run once for the tests that need it. */
function allNodeWeights(): Promise<Float32Array> {
  reference ??= (async () => {
    const ref = await startFederation(data, base);
    try {
      const rounds = await run(ref);
      expect(rounds.map((r) => [r.status, r.survivors])).to.deep.equal([
        ['completed', 5],
        ['completed', 5],
      ]);
      return ref.coordinator.globalWeights().slice();
    } finally {
      await ref.close();
    }
  })();
  return reference;
}

describe('browser clients in Chromium', function () {
  this.timeout(240000);
  let browser: Browser;

  before(async () => {
    await initBackend({ backend: 'wasm', quiet: true });
    if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
  });
  after(async () => {
    await browser?.close();
  });

  /** A fresh tab (its own context: its own IndexedDB) on the coordinator's /join page. */
  async function openJoin(url: string, query: Record<string, string> = {}): Promise<Page> {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await page.goto(`${url}/join?${new URLSearchParams(query).toString()}`);
    await page.waitForFunction(() => (globalThis as WithApi).rfl !== undefined);
    return page;
  }

  /**
   * Browser clients for parts `parts` of the federation's demo split: each page makes (or loads) its identity in
   * IndexedDB, the test enrols that key, and the page joins (query `auto=1`, wasm backend, half-up rounding).
   */
  async function joinPages(f: Federation, parts: number[], extra: (k: number) => Record<string, string> = () => ({})): Promise<Page[]> {
    return Promise.all(
      parts.map(async (k) => {
        const id = f.ids[k]!;
        const probe = await openJoin(f.url);
        const pk = await probe.evaluate((clientId) => (globalThis as WithApi).rfl.identity(clientId), id);
        f.coordinator.enrol(id, fromHex(pk));
        // Same context (same IndexedDB): the join finds the stored identity.
        const page = await probe.context().newPage();
        await probe.close();
        page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
        if (process.env['RFL_BROWSER_DEBUG'] === '1') page.on('console', (m) => console.error(`[${id}] ${m.text()}`));
        const q = {
          auto: '1',
          token: 'secret',
          clientId: id,
          backend: 'wasm',
          rounding: 'half-up',
          part: String(k),
          clients: String(base.numClients),
          count: String(COUNT),
          seed: String(DATA_SEED),
          splitSeed: String(base.seed),
          sharedSetSize: String(base.sharedSetSize),
          ...extra(k),
        };
        await page.goto(`${f.url}/join?${new URLSearchParams(q).toString()}`);
        await page.waitForFunction(() => ['connected', 'refused', 'error'].includes((globalThis as WithApi).rfl?.state.status ?? ''), undefined, { timeout: 120000 });
        const st = await page.evaluate(() => (globalThis as WithApi).rfl.state);
        expect(st.status, st.error ?? st.log.join('\n')).to.equal('connected');
        expect(st.backend).to.match(/^compute backend: wasm/);
        expect(st.log.join('\n')).to.include('from IndexedDB');
        // The whole identity key is on the page, with the entry an operator adds to an enrolment list.
        expect(await page.locator('#identity').innerText()).to.equal(pk);
        expect(JSON.parse(await page.locator('#enrol-line').innerText())).to.deep.equal({ clientId: id, identityPk: pk });
        return page;
      }),
    );
  }

  /** Connects Node clients for `parts` (the federation was started without clients). */
  async function joinNode(f: Federation, parts: number[]): Promise<void> {
    for (const k of parts) {
      const c = connect(f.url, { clientId: f.ids[k]!, token: 'secret', identity: f.keys[k]!, trainer: f.trainers[k]!, rounding: 'half-up', reconnection: false });
      f.clients.push(c);
      await c.ready;
    }
  }

  it('3 browser pages and 2 Node clients: 2 secure fed-bva rounds, final weights equal an all-Node run', async () => {
    const refWeights = await allNodeWeights();
    const f = await startFederation(data, base, { observerToken: 'watch' }, false);
    const pages = await joinPages(f, [0, 1, 2]);
    // The live dashboard, and a raw observer that records every message it gets.
    const dash = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    await dash.goto(`${f.url}/?token=watch`);
    await dash.waitForFunction(() => (globalThis as WithApi).rflDashboard?.snapshot !== null);
    const observed: { event: string; payload: unknown }[] = [];
    const observer = io(`${f.url}/observer`, { auth: { token: 'watch' }, transports: ['websocket'], reconnection: false });
    observer.onAny((event: string, payload: unknown) => observed.push({ event, payload }));
    await new Promise<void>((resolve) => observer.once('observe:snapshot', () => resolve()));
    // The run's configuration, as the dashboard shows it.
    const config = Object.fromEntries(
      await dash.locator('#config tr').evaluateAll((rows) => rows.map((r) => [r.querySelector('th')?.textContent ?? '', r.querySelector('td')?.textContent ?? ''])),
    ) as Record<string, string>;
    expect(config).to.include({ method: 'fed-bva', rounds: '2', numClients: '5', localEpochs: '1', evalAttacks: 'clean, fgsm', 'secure aggregation': 'yes' });
    let rounds: RoundMetrics[];
    try {
      await joinNode(f, [3, 4]);
      await recordTexts(dash, 'progress');
      const running = run(f);
      // Mid-round 2, read in one go from the page: the progress line names the round, its step and the live
      // secure-aggregation stage, and the clients line the counts (5 connected, 5 sampled, none dropped in round 1).
      const live = await dash.waitForFunction(
        () => {
          const progress = document.getElementById('progress')?.textContent ?? '';
          return /^round 2 of 2 — step: \w+ — secure-aggregation stage: /.test(progress) ? { progress, clients: document.getElementById('clients')?.textContent ?? '' } : false;
        },
        undefined,
        { timeout: 120000, polling: 20 },
      );
      const mid = (await live.jsonValue()) as { progress: string; clients: string };
      expect(mid.progress).to.match(/^round 2 of 2 — step: (keyAgreement|modelSum|sharedSet) — secure-aggregation stage: (setup|shareKeys|collectMasked|unmask)( \((model|bva\/0\/p[12])\))?$/);
      expect(mid.clients).to.equal('connected 5 · sampled 5 · dropped last round 0');
      rounds = await running;
      // The dashboard shows every round's number and figures once the round is over.
      await dash.waitForFunction(() => (globalThis as WithApi).rflDashboard.snapshot?.finished === true);
      // Every stage of secure aggregation was shown live, in the progress line itself.
      const shown = await textsSeen(dash);
      for (const t of [
        'round 1 of 2 — step: train',
        'round 1 of 2 — step: keyAgreement — secure-aggregation stage: setup',
        'round 2 of 2 — step: modelSum — secure-aggregation stage: collectMasked (model)',
        'round 2 of 2 — step: modelSum — secure-aggregation stage: unmask (model)',
        'round 2 of 2 — step: sharedSet — secure-aggregation stage: collectMasked (bva/0/p2)',
        'waiting (1 of 2 rounds done)',
        'finished: 2 of 2 rounds',
      ])
        expect(shown, t).to.include(t);
      for (const r of rounds) {
        const row = await dash.locator(`tr[data-round="${r.round}"]`).innerText();
        expect(row).to.include(String(r.round)).and.include('completed').and.include(r.trainLoss!.toFixed(4));
        expect(row)
          .to.include(`${(100 * r.eval!['clean']!).toFixed(1)} %`)
          .and.include(`${(100 * r.eval!['fgsm']!).toFixed(1)} %`);
      }
      expect(await dash.locator('#progress').innerText()).to.equal('finished: 2 of 2 rounds');
      expect(await dash.locator('#charts svg').count()).to.equal(2);
      expect(await dash.locator('#split').innerText()).to.match(/Round 2: \d+ ms in all/);
      const dir = shotDir();
      mkdirSync(dir, { recursive: true });
      const shot = path.join(dir, 'dashboard.png');
      await dash.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).to.be.above(10_000);
      // What the observer got: summaries only, and every round.
      expect(observed.filter((o) => o.event === 'observe:round').map((o) => (o.payload as { round: number }).round)).to.deep.equal([1, 2]);
      expect(observed.some((o) => o.event === 'observe:phase' && (o.payload as { phase: string }).phase === 'modelSum')).to.equal(true);
      // The secure-aggregation stages as they went out, SecAgg's and each sum's.
      const stages = observed.filter((o) => o.event === 'observe:stage').map((o) => (o.payload as { stage: string }).stage);
      for (const st of ['setup', 'shareKeys', 'collectMasked (model)', 'unmask (model)', 'collectMasked (bva/0/p1)', 'collectMasked (bva/0/p2)']) expect(stages).to.include(st);
      for (const o of observed) assertSummaryOnly(o.payload, o.event);
      for (const page of pages) {
        await page.waitForFunction(() => (globalThis as WithApi).rfl.state.rounds.length >= 2);
        const st = await page.evaluate(() => (globalThis as WithApi).rfl.state);
        expect(st.rounds).to.deep.equal([
          { round: 1, status: 'completed' },
          { round: 2, status: 'completed' },
        ]);
      }
    } finally {
      observer.close();
      await dash.context().close();
      await Promise.all(pages.map((p) => p.context().close()));
      await f.close();
    }
    expect(rounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(rounds.map((r) => r.survivors)).to.deep.equal([5, 5]);
    expect(rounds[0]!.bvaSums!.map((s) => s.phase)).to.deep.equal(['bva/0/p1', 'bva/0/p2']);
    expect(maxDiff(f.coordinator.globalWeights(), refWeights)).to.equal(0);
  });

  it('a page whose connection drops says so, reconnects, proves its identity again and takes part in the next round', async () => {
    const refWeights = await allNodeWeights();
    const coordinatorLog: string[] = [];
    const f = await startFederation(data, base, { log: (l) => coordinatorLog.push(l) }, false);
    const [page] = await joinPages(f, [0]);
    const id = f.ids[0]!;
    const rounds: RoundMetrics[] = [];
    let afterDrop: { status: string; connection: string } | undefined;
    try {
      await recordTexts(page!, 'connection');
      await joinNode(f, [1, 2, 3, 4]);
      await f.coordinator.run({
        onRound: async (m) => {
          rounds.push(m);
          if (m.round !== 1) return;
          // Between rounds 1 and 2 (the engine waits for this hook), once the page has seen round 1 end: its
          // transport closes under it, as on a network loss, and the test waits until it is back.
          await page!.waitForFunction(() => (globalThis as WithApi).rfl.state.rounds.length === 1);
          expect(await page!.evaluate(() => (globalThis as WithApi).rfl.testDropConnection())).to.equal(true);
          await page!.waitForFunction(() => (globalThis as WithApi).rfl.state.reconnects === 1, undefined, { timeout: 60000 });
          afterDrop = { status: await page!.locator('#status').innerText(), connection: await page!.locator('#connection').innerText() };
        },
      });
      await page!.waitForFunction(() => (globalThis as WithApi).rfl.state.status === 'finished');
      const st = await page!.evaluate(() => (globalThis as WithApi).rfl.state);
      expect(st.rounds).to.deep.equal([
        { round: 1, status: 'completed' },
        { round: 2, status: 'completed' },
      ]);
      // What the page showed: the loss, the retry, and the return.
      const shown = await textsSeen(page!);
      expect(shown.filter((t) => t.startsWith('Connection lost'))[0]).to.equal('Connection lost (the connection closed). Reconnecting…');
      expect(shown.some((t) => /^Connection lost \(the connection closed\)\. Reconnecting: attempt 1 of 15…$/.test(t))).to.equal(true);
      expect(afterDrop?.status).to.equal('connected');
      expect(afterDrop?.connection).to.match(/^Reconnected at \d\d:\d\d:\d\d; identity proven again\.$/);
      expect(st.log.join('\n')).to.match(/disconnected \(forced close\); reconnecting\n.*reconnected; identity proven again/);
    } finally {
      await page!.context().close();
      await f.close();
    }
    // The coordinator admitted the page twice, each time after the identity proof (it logs a client as connected
    // only once its signature of a fresh nonce verified), and drew it into round 2.
    expect(coordinatorLog.filter((l) => l.startsWith(`client ${id} connected (`))).to.have.length(2);
    expect(rounds.map((r) => [r.status, r.survivors, r.cohort.includes(id)])).to.deep.equal([
      ['completed', 5, true],
      ['completed', 5, true],
    ]);
    expect(maxDiff(f.coordinator.globalWeights(), refWeights)).to.equal(0);
  });

  it('a page the coordinator refuses as full retries at most its attempt limit, and a retry pending at leave() never runs', async () => {
    const coordinatorLog: string[] = [];
    // One connection at most: a Node client holding it makes the page's reconnection a 'busy' refusal.
    const f = await startFederation(data, { ...base, rounds: 1 }, { maxConnections: 1, log: (l) => coordinatorLog.push(l) }, false);
    const id = f.ids[0]!;
    const page = await openJoin(f.url);
    const pageConnections = (): number => coordinatorLog.filter((l) => l.startsWith(`client ${id} connected (`)).length;
    try {
      f.coordinator.enrol(id, fromHex(await page.evaluate((clientId) => (globalThis as WithApi).rfl.identity(clientId), id)));
      const joinPage = (busyRetryMs: number, maxReconnectAttempts: number): Promise<void> =>
        page.evaluate((o) => (globalThis as WithApi).rfl.join(o), {
          url: f.url,
          token: 'secret',
          clientId: id,
          backend: 'wasm',
          rounding: 'half-up',
          data: { kind: 'demo', count: COUNT, seed: DATA_SEED, splitSeed: base.seed, clients: base.numClients, part: 0, sharedSetSize: base.sharedSetSize },
          busyRetryMs,
          maxReconnectAttempts,
        });
      /**
       * Drops the page's connection while its network is off, lets Node client `k` take the coordinator's one
       * connection, and turns the network back on: the page's next attempt is refused, the coordinator being full.
       */
      const fillWhileAway = async (k: number): Promise<ClientSession> => {
        // Going offline closes the page's WebSocket (Chromium's emulation); the drop covers a build where it does not.
        await page.context().setOffline(true);
        await page.evaluate(() => (globalThis as WithApi).rfl.testDropConnection());
        await page.waitForFunction(() => (globalThis as WithApi).rfl.state.status === 'reconnecting');
        // The connection is free once the coordinator has seen the page's close (until then: 'busy').
        for (let tries = 0; ; tries++) {
          const c = connect(f.url, { clientId: f.ids[k]!, token: 'secret', identity: f.keys[k]!, trainer: f.trainers[k]!, reconnection: false });
          try {
            await c.ready;
            f.clients.push(c);
            await page.context().setOffline(false);
            await page.waitForFunction(() => /^The coordinator is full/.test((globalThis as WithApi).rfl.state.connection), undefined, { timeout: 60000 });
            return c;
          } catch (err) {
            c.close();
            if ((err as CodedError).code !== 'busy' || tries === 100) throw err;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      };

      // A retry pending when the page leaves is cancelled: once the connection is free again nothing reconnects
      // the closed session (it used to, after 5 s, under the same identity, closing a newer session of the page).
      await joinPage(1000, 15);
      expect(pageConnections()).to.equal(1);
      const holder = await fillWhileAway(1);
      await page.evaluate(() => (globalThis as WithApi).rfl.leave());
      holder.close();
      await new Promise((resolve) => setTimeout(resolve, 6500));
      expect(pageConnections(), coordinatorLog.join('\n')).to.equal(1);
      let st = await page.evaluate(() => (globalThis as WithApi).rfl.state);
      expect(st.status).to.equal('disconnected');
      expect(st.log.filter((l) => / reconnection refused: the coordinator is full/.test(l))).to.have.length(1);

      // Joined again, the page finds the coordinator full on reconnecting: it asks again twice (its limit here),
      // then gives up and says so, instead of retrying for ever.
      const logBefore = st.log.length;
      await joinPage(200, 2);
      expect(pageConnections()).to.equal(2);
      await fillWhileAway(2);
      await page.waitForFunction(() => (globalThis as WithApi).rfl.state.status === 'disconnected', undefined, { timeout: 60000 });
      st = await page.evaluate(() => (globalThis as WithApi).rfl.state);
      expect(st.error).to.match(
        /^The coordinator at http:\/\/127\.0\.0\.1:\d+ stayed full after 2 attempts to reconnect \(the coordinator holds its maximum of 1 connections; try again later\)\. Join again later\.$/,
      );
      expect(await page.locator('#error').innerText()).to.equal(st.error);
      const retries = st.log.slice(logBefore).filter((l) => / reconnection refused: the coordinator is full/.test(l));
      expect(retries.map((l) => l.replace(/^\S+ /, ''))).to.deep.equal([
        'reconnection refused: the coordinator is full; retry 1 of 2 in 200 ms',
        'reconnection refused: the coordinator is full; retry 2 of 2 in 200 ms',
      ]);
      expect(st.log.at(-1)).to.match(/gave up: the coordinator was still full after 2 attempts$/);
      expect(pageConnections()).to.equal(2);
    } finally {
      await page.context().close();
      await f.close();
    }
  });

  it('a page closed during the masked-input stage of a SecAgg+ round: the round completes with the survivors’ sum', async () => {
    const one = { ...base, rounds: 1 };
    const plus: Partial<CoordinatorOptions> = { secagg: { graph: { kind: 'harary', degree: 2 }, threshold: 2 } };
    // All-Node reference: client 2 closes its connection when asked for its masked model update.
    const ref = await startFederation(data, one, plus);
    ref.clients[2]!.socket.prependAny((event: string, ...args: unknown[]) => {
      if (event === 'secagg:collectMasked' && (unpack(args[0], 'test') as { env: { phase: string } }).env.phase === 'model') ref.clients[2]!.close();
    });
    let refRounds: RoundMetrics[];
    try {
      refRounds = await run(ref);
    } finally {
      await ref.close();
    }
    const f = await startFederation(data, one, plus, false);
    // Page 2 stops at the masked input of the model sum; the test then closes its tab.
    const pages = await joinPages(f, [0, 1, 2], (k): Record<string, string> => (k === 2 ? { testPauseAt: 'collectMasked:model' } : {}));
    const dropped = pages[2]!;
    let rounds: RoundMetrics[];
    try {
      await joinNode(f, [3, 4]);
      const running = run(f);
      await dropped.waitForFunction(() => (globalThis as WithApi).rfl.state.paused, undefined, { timeout: 120000 });
      await dropped.close();
      rounds = await running;
    } finally {
      await Promise.all(pages.map((p) => p.context().close()));
      await f.close();
    }
    for (const r of [rounds[0]!, refRounds[0]!]) {
      expect(r.status).to.equal('completed');
      expect(r.survivors).to.equal(4);
      expect(r.secaggDropouts).to.deep.equal([f.ids[2]]);
    }
    expect(maxDiff(f.coordinator.globalWeights(), ref.coordinator.globalWeights())).to.equal(0);
  });

  it('observers are read-only: their token opens no training connection, and what they send is ignored', async () => {
    const lines: string[] = [];
    const f = await startFederation(data, { ...base, rounds: 1, evalAttacks: ['clean'], finalAttacks: ['clean'] }, { observerToken: 'watch', log: (l) => lines.push(l) });
    const ref = await startFederation(data, { ...base, rounds: 1, evalAttacks: ['clean'], finalAttacks: ['clean'] });
    try {
      // A wrong observer token is refused.
      const bad = io(`${f.url}/observer`, { auth: { token: 'guess' }, transports: ['websocket'], reconnection: false });
      const refusal = await new Promise<string>((resolve) => bad.once('connect_error', (e) => resolve(e.message)));
      bad.close();
      expect(refusal).to.equal('invalid observer token');
      // The observer token is no client token: an enrolled identity presenting it is refused, for the token.
      const spy = nacl.sign.keyPair();
      f.coordinator.enrol('spy', spy.publicKey);
      const asClient = connect(f.url, { clientId: 'spy', token: 'watch', identity: spy, trainer: f.trainers[0]!, reconnection: false });
      const err = await asClient.ready.then(
        () => undefined,
        (e: CodedError) => e,
      );
      asClient.close();
      expect(err?.message).to.equal('coordinator refused the connection: invalid token');
      expect(err?.code).to.equal('auth');
      // An observer that sends training and secure-aggregation messages gets no answer and changes nothing.
      const obs = io(`${f.url}/observer`, { auth: { token: 'watch' }, transports: ['websocket'], reconnection: false });
      await new Promise<void>((resolve) => obs.once('observe:snapshot', () => resolve()));
      let answered = 0;
      const running = run(f);
      for (let k = 0; k < 6; k++)
        for (const ev of ['round:train', 'secagg:collectMasked', 'secagg:unmask', 'auth:proof'])
          obs.emit(ev, { ok: true, reply: { numExamples: 1e9, loss: 0, weights: new Float32Array(8) } }, () => answered++);
      const [rounds] = await Promise.all([running, run(ref)]);
      obs.close();
      expect(answered).to.equal(0);
      expect(rounds[0]!.status).to.equal('completed');
      expect(maxDiff(f.coordinator.globalWeights(), ref.coordinator.globalWeights())).to.equal(0);
      // The same identity with a client token is admitted (after the run, so that it takes no part in it): the
      // refusal above was for the token alone.
      const control = connect(f.url, { clientId: 'spy', token: 'secret', identity: spy, trainer: f.trainers[0]!, reconnection: false });
      try {
        await control.ready;
      } finally {
        control.close();
      }
    } finally {
      await f.close();
      await ref.close();
    }
    // The 24 events were logged 10 at a time at most: the first 10, then their count (told when the hub closed).
    const told = lines.filter((l) => l.startsWith('observer sent '));
    expect(told).to.have.length(10);
    expect(told[0]).to.equal("observer sent 'round:train'; observers are read-only, ignored");
    expect(told[9]).to.equal("observer sent 'secagg:collectMasked'; observers are read-only, ignored (further ones are counted, not logged one by one)");
    expect(lines.filter((l) => l.startsWith('observers sent '))).to.deep.equal(['observers sent 14 more unexpected events; observers are read-only, ignored']);
  });

  it('a picked folder of PNGs with labels.csv loads in the page as Node’s loader loads it', async () => {
    const f = await startFederation(data, { ...base, rounds: 1 }, {}, false);
    const page = await openJoin(f.url);
    try {
      const dir = path.resolve('examples/own-model/my-data');
      await page.locator('#png-folder').setInputFiles(dir);
      const got = await page.evaluate(() => (globalThis as WithApi).rfl.pickedDataSummary('png'));
      const { train } = loadImageFolder(dir);
      expect({ ...got, pixelSum: 0 }).to.deep.equal({
        count: train.count,
        height: train.height,
        width: train.width,
        channels: train.channels,
        numClasses: train.numClasses,
        labels: Array.from(train.labels),
        pixelSum: 0,
      });
      expect(got.pixelSum).to.equal(train.images.reduce((a, v) => a + v, 0));
      // A browser that cannot pick folders picks the files themselves (no folder paths): the same dataset.
      const trainDir = path.join(dir, 'train');
      const flat = readdirSync(trainDir).map((name) => ({ name, base64: readFileSync(path.join(trainDir, name)).toString('base64') }));
      const picked = await page.evaluate((files) => {
        const dt = new DataTransfer();
        for (const f of files) dt.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
        const input = document.getElementById('png-folder') as HTMLInputElement;
        input.files = dt.files;
        return { count: input.files.length, paths: [...input.files].filter((f) => f.webkitRelativePath !== '').length };
      }, flat);
      expect(picked).to.deep.equal({ count: flat.length, paths: 0 });
      expect(await page.evaluate(() => (globalThis as WithApi).rfl.pickedDataSummary('png'))).to.deep.equal(got);
    } finally {
      await page.context().close();
      await f.close();
    }
  });

  it('picked IDX files (raw and gzipped) load in the page with the pixels and labels written', async () => {
    const f = await startFederation(data, { ...base, rounds: 1 }, {}, false);
    const page = await openJoin(f.url);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-idx-'));
    try {
      const n = 40;
      const pixels = Uint8Array.from(data.train.images.subarray(0, n * 784), (v) => Math.round(v * 255));
      const header = (magic: number, dims: number[]): Buffer => {
        const b = Buffer.alloc(4 + 4 * dims.length);
        b.writeUInt32BE(magic, 0);
        dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
        return b;
      };
      writeFileSync(path.join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(Buffer.concat([header(0x803, [n, 28, 28]), pixels])));
      writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), Buffer.concat([header(0x801, [n]), data.train.labels.subarray(0, n)]));
      await page.locator('#idx-images').setInputFiles(path.join(dir, 'train-images-idx3-ubyte.gz'));
      await page.locator('#idx-labels').setInputFiles(path.join(dir, 'train-labels-idx1-ubyte'));
      const got = await page.evaluate(() => (globalThis as WithApi).rfl.pickedDataSummary('idx'));
      expect({ ...got, pixelSum: 0 }).to.deep.equal({ count: n, height: 28, width: 28, channels: 1, numClasses: 10, labels: Array.from(data.train.labels.subarray(0, n)), pixelSum: 0 });
      expect(got.pixelSum).to.equal(Float32Array.from(pixels, (v) => v / 255).reduce((a, v) => a + v, 0));
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await page.context().close();
      await f.close();
    }
  });

  it('a wrong token gets a plain message on the page', async () => {
    const f = await startFederation(data, { ...base, rounds: 1 }, {}, false);
    const page = await openJoin(f.url, { auto: '1', token: 'not-the-token', clientId: f.ids[0]!, backend: 'wasm' });
    try {
      await page.waitForFunction(() => ['refused', 'error'].includes((globalThis as WithApi).rfl.state.status), undefined, { timeout: 120000 });
      const shown = await page.locator('#error').innerText();
      expect(shown).to.equal('The coordinator did not accept this token. Check the token you were given and try again.');
      expect(await page.locator('#error').isVisible()).to.equal(true);
    } finally {
      await page.context().close();
      await f.close();
    }
  });

  it('the page acts only on validated notices: a malformed round:end or run:end is dropped, a valid one ends the run', async () => {
    // A stand-in coordinator: the pages, and a socket.io server that accepts any identity and then sends one
    // malformed and one valid notice of each kind.
    const http = createServer((req, res) => {
      if (!serveBrowserPage(req, res, false)) {
        res.writeHead(404);
        res.end();
      }
    });
    const server = new Server(http, { transports: ['websocket'] });
    const acked: string[] = [];
    server.on('connection', (socket) => {
      socket.emit('auth:challenge', { nonce: '00'.repeat(32) }, () => {
        socket.emit('auth:accepted');
        socket.emit('round:end', { round: 'one', status: 'completed' });
        socket.emit('round:end', { round: 1, status: 'finished' });
        socket.emit('round:end', { round: 1, status: 'completed' });
        socket.emit('run:end', { rounds: 'all' }, () => acked.push('malformed'));
        socket.emit('run:end', null, () => acked.push('null'));
        socket.emit('run:end', { rounds: 1 }, () => acked.push('valid'));
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
    const page = await openJoin(url);
    try {
      await page.evaluate((o) => (globalThis as WithApi).rfl.join(o), {
        url,
        token: 'secret',
        clientId: 'notices',
        backend: 'wasm',
        data: { kind: 'demo', count: COUNT, seed: DATA_SEED, splitSeed: base.seed, clients: base.numClients, part: 0, sharedSetSize: base.sharedSetSize },
      });
      await page.waitForFunction(() => (globalThis as WithApi).rfl.state.status === 'finished', undefined, { timeout: 60000 });
      const st = await page.evaluate(() => (globalThis as WithApi).rfl.state);
      expect(st.rounds).to.deep.equal([{ round: 1, status: 'completed' }]);
      const log = st.log.map((l) => l.replace(/^\S+ /, ''));
      expect(log.filter((l) => /^(round:end|run:end) ignored/.test(l))).to.deep.equal([
        'round:end ignored: round:end.round: Invalid input: expected number, received string',
        'round:end ignored: round:end.status: Invalid option: expected one of "completed"|"aborted"',
        'run:end ignored: run:end.rounds: Invalid input: expected number, received string',
        'run:end ignored: run:end: Invalid input: expected object, received null',
      ]);
      expect(log.filter((l) => l.startsWith('the coordinator finished the run'))).to.deep.equal(['the coordinator finished the run (1 rounds); leaving']);
      // Only the valid run:end was acknowledged (the coordinator waits for that acknowledgement before closing).
      for (let i = 0; i < 400 && !acked.includes('valid'); i++) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(acked).to.deep.equal(['valid']);
    } finally {
      await page.context().close();
      await server.close();
    }
  });

  it('Ed25519 identities interoperate: the page verifies a Node signature and Node verifies the page’s', async () => {
    const f = await startFederation(data, { ...base, rounds: 1 }, {}, false);
    const page = await openJoin(f.url);
    try {
      // The page shows the identity key of a client id without joining (what an operator enrols).
      await page.locator('#clientId').fill('interop');
      await page.locator('#show-identity').click();
      await page.waitForFunction(() => /^[0-9a-f]{64}$/.test(document.getElementById('identity')?.textContent ?? ''));
      const shown = await page.locator('#identity').innerText();
      const pk = fromHex(await page.evaluate(() => (globalThis as WithApi).rfl.identity('interop')));
      expect(shown).to.equal(toHex(pk));
      // Chromium got the join bundle gzipped (fewer bytes on the wire than it decoded to) and decoded it whole.
      const sizes = await page.evaluate(() =>
        (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
          .filter((e) => new URL(e.name).pathname === '/browser/join.js')
          .map((e) => ({ encoded: e.encodedBodySize, decoded: e.decodedBodySize })),
      );
      const bundle = statSync(path.join(BROWSER_DIR, 'join.js')).size;
      expect(sizes).to.have.length(1);
      expect(sizes[0]!.decoded).to.equal(bundle);
      expect(sizes[0]!.encoded)
        .to.be.above(0)
        .and.below(bundle / 2);
      const msg = toHex(nacl.randomBytes(48));
      const node = nacl.sign.keyPair();
      const nodeSig = toHex(ed25519Sign(node.secretKey, fromHex(msg)));
      expect(await page.evaluate(([p, m, s]) => (globalThis as WithApi).rfl.verify(p!, m!, s!), [toHex(node.publicKey), msg, nodeSig])).to.equal(true);
      const forged = nodeSig.slice(0, -2) + (nodeSig.endsWith('00') ? '01' : '00');
      expect(await page.evaluate(([p, m, s]) => (globalThis as WithApi).rfl.verify(p!, m!, s!), [toHex(node.publicKey), msg, forged])).to.equal(false);
      const pageSig = await page.evaluate(([m, id]) => (globalThis as WithApi).rfl.signAs(id!, m!), [msg, 'interop']);
      expect(ed25519Verify(pk, fromHex(msg), fromHex(pageSig))).to.equal(true);
    } finally {
      await page.context().close();
      await f.close();
    }
  });
});
