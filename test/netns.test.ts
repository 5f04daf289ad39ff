/**
 * Two hosts: a coordinator process in one network namespace and three edge-client
 * processes in another, joined by a veth pair the test makes (traffic stays inside it), run a secure round trip of
 * `rfl coordinator enrol`, `rfl coordinator --enrolment` and `rfl client`. Where the kernel has the netem qdisc, the
 * clients' link gets 200 ms delay and 5 % loss. Skipped, with the reason, where the machine cannot make namespaces
 * (not root, no `ip`).
 */
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const A = `rflA${process.pid}`;
const B = `rflB${process.pid}`;
const VA = `va${process.pid % 100000}`;
const VB = `vb${process.pid % 100000}`;
const COORD = '10.77.0.1';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Makes the namespaces and the link; returns why not, or undefined when done. */
function setUp(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for network namespaces';
  try {
    ip('netns', 'add', A);
    ip('netns', 'add', B);
    ip('link', 'add', VA, 'type', 'veth', 'peer', 'name', VB);
    ip('link', 'set', VA, 'netns', A);
    ip('link', 'set', VB, 'netns', B);
    ip('-n', A, 'addr', 'add', `${COORD}/24`, 'dev', VA);
    ip('-n', B, 'addr', 'add', '10.77.0.2/24', 'dev', VB);
    for (const [ns, dev] of [
      [A, VA],
      [B, VB],
    ] as const) {
      ip('-n', ns, 'link', 'set', dev, 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    return undefined;
  } catch (err) {
    return `cannot make network namespaces here: ${((err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message).trim()}`;
  }
}

function tearDown(): void {
  for (const ns of [A, B]) spawnSync('ip', ['netns', 'del', ns]);
}

const rfl = path.resolve('dist/cli/rfl.js');
const inNs = (ns: string, args: string[], cwd: string): ChildProcess =>
  spawn('ip', ['netns', 'exec', ns, process.execPath, rfl, ...args], { cwd, env: { ...process.env, RFL_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] });
const exit = (c: ChildProcess): Promise<number | null> => new Promise((resolve) => c.once('exit', (code) => resolve(code)));

describe('two hosts: coordinator and clients in separate network namespaces', function () {
  this.timeout(240000);
  let skipped: string | undefined;
  let netem = 'not tried';
  before(function () {
    skipped = setUp();
    if (skipped !== undefined) {
      console.log(`      (skipped: ${skipped})`);
      this.skip();
    }
    const r = spawnSync('ip', ['netns', 'exec', B, 'tc', 'qdisc', 'add', 'dev', VB, 'root', 'netem', 'delay', '200ms', 'loss', '5%'], { encoding: 'utf8' });
    netem = r.status === 0 ? 'on: 200 ms delay, 5 % loss' : `unavailable here (${(r.stderr || r.error?.message || '').trim()}), plain link`;
    console.log(`      (netem ${netem})`);
  });
  after(() => {
    if (skipped === undefined) tearDown();
  });

  it('runs 2 secure rounds of 3 enrolled edge clients over the link', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'rfl-netns-'));
    expect(spawnSync(process.execPath, [rfl, 'coordinator', 'enrol', '--ids', 'a,b,c', '--keys-dir', 'keys', '--out', 'enrolment.json'], { cwd: dir }).status).to.equal(0);
    const coordinator = inNs(
      A,
      ['coordinator', '--enrolment', 'enrolment.json', '--host', COORD, '--port', '8080', '--clients', '3', '--rounds', '2', '--local-epochs', '1', '--method', 'fedavg', '--run-dir', 'run'],
      dir,
    );
    let log = '';
    coordinator.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    const clients = ['a', 'b', 'c'].map((id, k) =>
      inNs(B, ['client', '--server', `http://${COORD}:8080`, '--id', id, '--identity-file', `keys/${id}.key`, '--embedded', '--partition', String(k), '--clients', '3'], dir),
    );
    try {
      const codes = await Promise.all([exit(coordinator), ...clients.map(exit)]);
      expect(codes, log.slice(-800)).to.deep.equal([0, 0, 0, 0]);
      const rounds = readFileSync(path.join(dir, 'run', 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { status: string; survivors: number });
      expect(rounds.map((r) => [r.status, r.survivors])).to.deep.equal([
        ['completed', 3],
        ['completed', 3],
      ]);
    } finally {
      for (const c of [coordinator, ...clients]) if (c.exitCode === null) c.kill('SIGKILL');
    }
  });
});
