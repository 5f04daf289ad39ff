/**
 * Browser clients in a real Chromium (playwright-core driving Debian's /usr/bin/chromium): the coordinator's
 * `/join` page with the esbuild bundle (dist/browser/), tfjs's wasm backend with the project's kernels, identities
 * in IndexedDB. Three pages and two Node clients run two secure fed-bva rounds whose final weights equal an
 * all-Node run with the same seeds; a page closed during the masked-input stage of a SecAgg+ round is a dropout
 * the round recovers from, with the same result as a Node client dropping there; a wrong token gets a plain
 * message; Ed25519 keys and signatures interoperate between the page and Node both ways.
 * Everything runs on loopback, port 0; no step waits on the clock (the rounds wait on events).
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as os from 'node:os';
import * as path from 'node:path';
import { io } from 'socket.io-client';
import { chromium, type Browser, type Page } from 'playwright-core';
import nacl from 'tweetnacl';
import { initBackend } from '../shared/compute/backend.js';
import { makeSyntheticDataset } from '../shared/data/synthetic.js';
import { loadImageFolder } from '../shared/data/images.js';
import { fromHex, toHex } from '../shared/secagg/encoding.js';
import { ed25519Sign, ed25519Verify } from '../shared/secagg/primitives.js';
import { unpack } from '../shared/protocol/wire.js';
import { connect } from '../client/session.js';
import { startFederation, type Federation } from './helpers/federation.js';
import type { RoundMetrics } from '../server/coordinator.js';
import type { CoordinatorOptions } from '../server/coordinator-options.js';

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
  state: { status: string; rounds: { round: number; status: string }[]; stage: string; error?: string; paused: boolean; backend?: string; log: string[] };
  identity(clientId: string): Promise<string>;
  signAs(clientId: string, msgHex: string): Promise<string>;
  pickedDataSummary(kind: 'png' | 'idx'): Promise<{ count: number; height: number; width: number; channels: number; numClasses: number; labels: number[]; pixelSum: number }>;
  verify(pkHex: string, msgHex: string, sigHex: string): boolean;
}
type WithApi = typeof globalThis & { rfl: PageApi; rflDashboard: { snapshot: { rounds: { round: number }[]; finished: boolean } | null } };

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
    const ref = await startFederation(data, base);
    let refRounds: RoundMetrics[];
    try {
      refRounds = await run(ref);
    } finally {
      await ref.close();
    }
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
    let rounds: RoundMetrics[];
    try {
      await joinNode(f, [3, 4]);
      rounds = await run(f);
      // The dashboard shows every round's number and figures once the round is over.
      await dash.waitForFunction(() => (globalThis as WithApi).rflDashboard.snapshot?.finished === true);
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
      expect(await dash.evaluate(() => (globalThis as unknown as { rflDashboard: { stages: string[] } }).rflDashboard.stages)).to.include('round 2: collectMasked (model)');
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
    expect(refRounds.map((r) => r.status)).to.deep.equal(['completed', 'completed']);
    expect(maxDiff(f.coordinator.globalWeights(), ref.coordinator.globalWeights())).to.equal(0);
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
    const pages = await joinPages(f, [0, 1, 2], (k): Record<string, string> => (k === 2 ? { pauseAt: 'collectMasked:model' } : {}));
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
    const f = await startFederation(data, { ...base, rounds: 1, evalAttacks: ['clean'], finalAttacks: ['clean'] }, { observerToken: 'watch' });
    const ref = await startFederation(data, { ...base, rounds: 1, evalAttacks: ['clean'], finalAttacks: ['clean'] });
    try {
      // A wrong observer token is refused.
      const bad = io(`${f.url}/observer`, { auth: { token: 'guess' }, transports: ['websocket'], reconnection: false });
      const refusal = await new Promise<string>((resolve) => bad.once('connect_error', (e) => resolve(e.message)));
      bad.close();
      expect(refusal).to.equal('invalid observer token');
      // The observer token is no client token: the training namespace refuses it.
      const asClient = connect(f.url, { clientId: 'spy', token: 'watch', identity: nacl.sign.keyPair(), trainer: f.trainers[0]!, reconnection: false });
      const err = await asClient.ready.then(
        () => undefined,
        (e: Error) => e,
      );
      asClient.close();
      expect(err?.message).to.match(/invalid token|not enrolled/);
      // An observer that sends training and secure-aggregation messages gets no answer and changes nothing.
      const obs = io(`${f.url}/observer`, { auth: { token: 'watch' }, transports: ['websocket'], reconnection: false });
      await new Promise<void>((resolve) => obs.once('observe:snapshot', () => resolve()));
      let answered = 0;
      const running = run(f);
      for (const ev of ['round:train', 'secagg:collectMasked', 'secagg:unmask', 'auth:proof'])
        obs.emit(ev, { ok: true, reply: { numExamples: 1e9, loss: 0, weights: new Float32Array(8) } }, () => answered++);
      const [rounds] = await Promise.all([running, run(ref)]);
      obs.close();
      expect(answered).to.equal(0);
      expect(rounds[0]!.status).to.equal('completed');
      expect(maxDiff(f.coordinator.globalWeights(), ref.coordinator.globalWeights())).to.equal(0);
    } finally {
      await f.close();
      await ref.close();
    }
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

  it('Ed25519 identities interoperate: the page verifies a Node signature and Node verifies the page’s', async () => {
    const f = await startFederation(data, { ...base, rounds: 1 }, {}, false);
    const page = await openJoin(f.url);
    try {
      const pk = fromHex(await page.evaluate(() => (globalThis as WithApi).rfl.identity('interop')));
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
