/**
 * Separate hosts for the queue tests, as test/netns.test.ts makes them: one network namespace per worker process,
 * each joined to the test's own namespace by a veth pair the test makes (10.78.<n>.2 inside, 10.78.<n>.1 on the
 * test's side, where the test's Redis also listens; n is a subnet no interface of the machine uses yet, so two test
 * runs at once, say a developer's and CI's, never route into each other's namespaces). A link can be cut and restored (`ip link set … down/up` on the
 * test's end). Where the machine cannot make namespaces (not root, no `ip`), the workers run on loopback instead,
 * and `reason` says why.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** One worker's namespace and link. */
export interface WorkerHost {
  ns: string;
  /** The test's end of the veth pair (in the test's namespace). */
  dev: string;
  /** The address the worker reaches the test's side at (Redis listens there too). */
  gateway: string;
}

/** The hosts made, or why there are none (then everything runs on loopback). */
export type WorkerHosts = { hosts: WorkerHost[]; reason?: undefined } | { hosts: undefined; reason: string };

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

/** Third octets of the 10.78.0.0/16 subnets some interface of this namespace already has. */
function usedSubnets(): Set<number> {
  const out = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' });
  return new Set([...out.matchAll(/inet 10\.78\.(\d+)\./g)].map((m) => Number(m[1])));
}

/** Makes `n` namespaces with a link each. */
export function makeWorkerHosts(n: number): WorkerHosts {
  if (process.getuid?.() !== 0) return { hosts: undefined, reason: 'network namespaces need root' };
  const hosts: WorkerHost[] = [];
  try {
    const used = usedSubnets();
    // Starting from the pid, so two runs that look at the same moment still pick apart.
    let subnet = (process.pid % 250) + 1;
    for (let k = 1; k <= n; k++) {
      while (used.has(subnet)) subnet = (subnet % 254) + 1;
      used.add(subnet);
      const h: WorkerHost = { ns: `rflQ${process.pid}n${k}`, dev: `rq${process.pid % 100000}n${k}`, gateway: `10.78.${subnet}.1` };
      const inner = `rw${process.pid % 100000}n${k}`;
      ip('netns', 'add', h.ns);
      hosts.push(h);
      ip('link', 'add', h.dev, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', h.ns);
      ip('addr', 'add', `${h.gateway}/24`, 'dev', h.dev);
      ip('link', 'set', h.dev, 'up');
      ip('-n', h.ns, 'addr', 'add', `10.78.${subnet}.2/24`, 'dev', inner);
      ip('-n', h.ns, 'link', 'set', inner, 'up');
      ip('-n', h.ns, 'link', 'set', 'lo', 'up');
    }
    return { hosts };
  } catch (err) {
    removeWorkerHosts(hosts);
    return { hosts: undefined, reason: `cannot make network namespaces here: ${((err as { stderr?: Buffer }).stderr?.toString() ?? (err as Error).message).trim()}` };
  }
}

/** Deletes the namespaces (and with them both ends of each veth pair). */
export function removeWorkerHosts(hosts: readonly WorkerHost[]): void {
  for (const h of hosts) {
    spawnSync('ip', ['link', 'del', h.dev]);
    spawnSync('ip', ['netns', 'del', h.ns]);
  }
}

/** Cuts a worker's link (its packets are dropped, its connections hang) or restores it. */
export function setLink(h: WorkerHost, up: boolean): void {
  ip('link', 'set', h.dev, up ? 'up' : 'down');
}

/** Spawns `node args…` inside the host's namespace, or here when there is none. */
export function spawnOn(h: WorkerHost | undefined, args: readonly string[], opts: SpawnOptions): ChildProcess {
  // `ip netns exec` execs node in place, so the child's pid is node's and a SIGKILL reaches it.
  return h === undefined ? spawn(process.execPath, [...args], opts) : spawn('ip', ['netns', 'exec', h.ns, process.execPath, ...args], opts);
}
