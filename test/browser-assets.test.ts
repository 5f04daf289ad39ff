/**
 * How the coordinator serves the browser client's assets (server/browser-pages.ts), over real HTTP on loopback:
 * gzipped when the browser accepts gzip (and the bytes decode to the built file), identity otherwise; a strong ETag
 * per representation, the content's hash (`-gz` added for the gzipped bytes), with 304 for an If-None-Match that
 * names either; pages that name their assets by that hash, and
 * such versioned URLs cached for a year while unversioned ones are revalidated. And the observer namespace's
 * hardening (server/observer.ts): the token compared in constant time, the log of what observers send
 * rate-limited, the handshake refusal as socket.io hands it on.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { acceptsGzip, BROWSER_DIR, serveBrowserPage } from '../server/browser-pages.js';
import { HandshakeRefusal, LimitedLog, observerTokenMatches } from '../server/observer.js';

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request, the body as sent on the wire (nothing decoded). */
function get(port: number, urlPath: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: urlPath, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const built = (name: string): Buffer => readFileSync(path.join(BROWSER_DIR, name));
const hashOf = (b: Buffer): string => createHash('sha256').update(b).digest('hex').slice(0, 16);
const WASM = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];
const CHROME_ACCEPT = 'gzip, deflate, br, zstd';

describe('browser assets: gzip, ETag and cache headers', function () {
  let server: Server;
  let port: number;

  before(async () => {
    server = createServer((req, res) => {
      if (serveBrowserPage(req, res, true)) return;
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('the pages name their assets by content hash, and are not cached themselves', async () => {
    const join = await get(port, '/join');
    expect(join.status).to.equal(200);
    expect(join.headers['cache-control']).to.equal('no-store');
    const html = join.body.toString('utf8');
    expect(html).to.include(`<script type="module" src="/browser/join.js?v=${hashOf(built('join.js'))}"></script>`);
    const listed = /<script type="application\/json" id="rfl-wasm-paths">(.*?)<\/script>/.exec(html);
    expect(listed, 'the wasm binaries’ URLs are on the page').to.not.equal(null);
    expect(JSON.parse(listed![1]!)).to.deep.equal(Object.fromEntries(WASM.map((n) => [n, `/browser/${n}?v=${hashOf(built(n))}`])));
    const dash = (await get(port, '/')).body.toString('utf8');
    expect(dash).to.include(`<script type="module" src="/browser/dashboard.js?v=${hashOf(built('dashboard.js'))}"></script>`);
  });

  for (const name of ['join.js', 'dashboard.js', ...WASM]) {
    it(`${name}: gzipped for a browser that accepts gzip, decoding to the built bytes; identity otherwise`, async () => {
      const file = built(name);
      const hash = hashOf(file);
      const gz = await get(port, `/browser/${name}?v=${hash}`, { 'accept-encoding': CHROME_ACCEPT });
      expect(gz.status).to.equal(200);
      expect(gz.headers['content-encoding']).to.equal('gzip');
      expect(gz.headers['vary']).to.equal('Accept-Encoding');
      expect(gz.headers['content-type']).to.equal(name.endsWith('.wasm') ? 'application/wasm' : 'text/javascript; charset=utf-8');
      // A strong ETag names exact bytes: the gzipped body has its own.
      expect(gz.headers['etag']).to.equal(`"${hash}-gz"`);
      expect(gz.headers['cache-control']).to.equal('public, max-age=31536000, immutable');
      expect(Number(gz.headers['content-length'])).to.equal(gz.body.length);
      expect(gz.body.length).to.be.below(file.length * 0.6);
      expect(gunzipSync(gz.body).equals(file)).to.equal(true);
      // No Accept-Encoding, or gzip refused with q=0: the bytes as built.
      const refusing: Record<string, string>[] = [{}, { 'accept-encoding': 'gzip;q=0, br' }];
      for (const headers of refusing) {
        const plain = await get(port, `/browser/${name}?v=${hash}`, headers);
        expect(plain.status).to.equal(200);
        expect(plain.headers['content-encoding']).to.equal(undefined);
        expect(plain.headers['etag']).to.equal(`"${hash}"`);
        expect(plain.body.equals(file)).to.equal(true);
      }
    });
  }

  it('an unversioned or stale URL is revalidated by ETag; a matching If-None-Match gets a 304 without a body', async () => {
    const hash = hashOf(built('join.js'));
    for (const url of ['/browser/join.js', '/browser/join.js?v=0000000000000000']) {
      const r = await get(port, url, { 'accept-encoding': 'gzip' });
      expect(r.status).to.equal(200);
      expect(r.headers['cache-control']).to.equal('no-cache');
      expect(r.headers['etag']).to.equal(`"${hash}-gz"`);
    }
    // Either representation's tag (weak or strong) revalidates; the 304 carries the tag of the representation this
    // request would get.
    for (const tag of [`"${hash}"`, `W/"${hash}"`, `"other", "${hash}"`, `"${hash}-gz"`, `W/"${hash}-gz"`, `"other", "${hash}-gz"`]) {
      for (const [accept, expected] of [
        ['gzip', `"${hash}-gz"`],
        ['identity', `"${hash}"`],
      ] as const) {
        const again = await get(port, '/browser/join.js', { 'accept-encoding': accept, 'if-none-match': tag });
        expect(again.status, `${tag} (${accept})`).to.equal(304);
        expect(again.body.length).to.equal(0);
        expect(again.headers['etag'], `${tag} (${accept})`).to.equal(expected);
      }
    }
    for (const tag of ['"0000000000000000"', '"0000000000000000-gz"', `"${hash}-br"`, `"${hash}gz"`]) {
      expect((await get(port, '/browser/join.js', { 'accept-encoding': 'gzip', 'if-none-match': tag })).status, tag).to.equal(200);
    }
    const head = await get(port, '/browser/join.js', { 'accept-encoding': 'gzip' }, 'HEAD');
    expect(head.status).to.equal(200);
    expect(head.headers['content-encoding']).to.equal('gzip');
    expect(head.body.length).to.equal(0);
    expect((await get(port, '/browser/nothing.js')).status).to.equal(404);
  });

  it('reads Accept-Encoding as browsers and proxies send it', () => {
    for (const [header, ok] of [
      ['gzip', true],
      ['gzip, deflate, br, zstd', true],
      ['br;q=1.0, gzip;q=0.8, *;q=0.1', true],
      ['GZIP', true],
      ['*', true],
      ['br', false],
      ['', false],
      ['gzip;q=0', false],
      ['gzip;q=0.000, *', false],
      ['*;q=0', false],
      ['identity', false],
    ] as const)
      expect(acceptsGzip(header), header).to.equal(ok);
    expect(acceptsGzip(undefined)).to.equal(false);
  });
});

describe('observer namespace hardening', () => {
  it('compares the observer token by its SHA-256 digest, whatever the length or type given', () => {
    const expected = createHash('sha256').update('watch').digest();
    expect(observerTokenMatches('watch', expected)).to.equal(true);
    for (const wrong of ['watcH', 'watc', 'watch ', '', 'x'.repeat(10_000), undefined, 42, ['watch'], { token: 'watch' }])
      expect(observerTokenMatches(wrong, expected), JSON.stringify(wrong) ?? 'undefined').to.equal(false);
  });

  it('refuses a handshake with an Error that carries its code, as socket.io hands it on', () => {
    const e = new HandshakeRefusal('invalid observer token', 'auth');
    expect(e).to.be.instanceOf(Error);
    expect(e.message).to.equal('invalid observer token');
    expect(e.data).to.deep.equal({ code: 'auth' });
  });

  it('logs the first events an observer sends, then only their count, at most once per interval', () => {
    const lines: string[] = [];
    let now = 0;
    const limited = new LimitedLog(
      (l) => lines.push(l),
      3,
      1000,
      () => now,
    );
    for (let k = 1; k <= 10; k++) limited.note(`event ${k}`);
    expect(lines).to.deep.equal(['event 1', 'event 2', 'event 3 (further ones are counted, not logged one by one)']);
    now = 999;
    limited.note('event 11');
    expect(lines).to.have.length(3);
    now = 1000;
    limited.note('event 12');
    expect(lines.slice(3)).to.deep.equal(['observers sent 9 more unexpected events; observers are read-only, ignored']);
    now = 1500;
    limited.note('event 13');
    limited.flush();
    expect(lines.slice(4)).to.deep.equal(['observers sent 1 more unexpected event; observers are read-only, ignored']);
    limited.flush();
    expect(lines).to.have.length(5);
  });
});
