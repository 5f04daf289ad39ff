/**
 * The simulation's side of the `/hosts` channel (protocol.ts): admits client hosts by token, gives each the next
 * free share of the virtual clients, waits until every share is connected, and before and after each round tells
 * every host the cohort (so their corruption plans match the simulation's) and collects their pools' busy time.
 * A host that leaves before the run starts frees its share for the next one; one that leaves mid-run is gone (its
 * clients are dropouts, which the rounds recover from as they would in one process).
 */
import { timingSafeEqual } from 'node:crypto';
import type { Namespace, Socket } from 'socket.io';
import { firstIssue } from '../benchmark/queue/protocol.js';
import { messageOf } from '../../shared/errors/catalogue.js';
import { HostAuthSchema, HostClocksSchema, HostReadySchema, HOSTS_PROTOCOL, type HostClientToServer, type HostClocks, type HostServerToClient } from './protocol.js';

/** Options of a `HostHub`. */
export interface HostHubOptions {
  /** The coordinator's `/hosts` namespace. */
  namespace: Namespace<HostClientToServer, HostServerToClient>;
  /** The token hosts must present. */
  token: string;
  /** Client hosts the run waits for (n ≥ 1). */
  count: number;
  /** The scenario as scenario-file fields (scenario-wire.ts). */
  scenario: Record<string, unknown>;
  /** The token of the virtual clients. */
  clientToken: string;
  /** Virtual clients in the run N (client k goes to share k mod n). */
  numClients: number;
  log: (line: string) => void;
  /** How long a host may take to acknowledge a round message before it counts as gone (ms, default 600,000). */
  ackTimeoutMs?: number;
}

type HostSocket = Socket<HostClientToServer, HostServerToClient>;
/** A host's socket whose acknowledged emits time out (socket.io's `timeout(ms)`). */
type TimedHostSocket = ReturnType<HostSocket['timeout']>;

interface Host {
  socket: HostSocket;
  name: string;
  share: number;
  ready: boolean;
  clocks: HostClocks;
}

/** Clients of share `share` of `of`, among `n`: those k < n with k mod `of` = `share`. */
export function shareSize(n: number, share: number, of: number): number {
  return share < n ? Math.floor((n - 1 - share) / of) + 1 : 0;
}

/** The simulation's end of the hosts channel. */
export class HostHub {
  private readonly hosts = new Map<number, Host>();
  /** Hosts that left mid-run: their last busy times still count in the sums. */
  private readonly gone: HostClocks[] = [];
  private started = false;
  private allReady!: () => void;
  private readonly readyPromise = new Promise<void>((resolve) => (this.allReady = resolve));

  constructor(private readonly opts: HostHubOptions) {
    const ns = opts.namespace;
    const expected = Buffer.from(opts.token);
    ns.use((socket, next) => {
      const auth = HostAuthSchema.safeParse(socket.handshake.auth);
      if (!auth.success) {
        const given: unknown = socket.handshake.auth;
        const protocol = typeof given === 'object' && given !== null && 'protocol' in given ? given.protocol : undefined;
        return next(new Error(protocol !== HOSTS_PROTOCOL ? `refused: hosts protocol ${JSON.stringify(protocol)}, this simulation speaks ${HOSTS_PROTOCOL}` : `refused: ${firstIssue(auth.error)}`));
      }
      const given = Buffer.from(auth.data.token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return next(new Error('refused: wrong token'));
      if (this.started) return next(new Error('refused: the run has started; every share is taken'));
      if (this.freeShare() === undefined) return next(new Error(`refused: all ${opts.count} shares are taken`));
      next();
    });
    ns.on('connection', (socket) => this.admit(socket, HostAuthSchema.parse(socket.handshake.auth).name));
  }

  /** Resolves once every share's host has connected its clients. */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  /** Tells every host round `round`'s cohort and waits for them; resolves with the pools' busy time summed. */
  async roundStart(round: number, cohort: readonly string[]): Promise<HostClocks> {
    this.started = true;
    const msg = { round, cohort: [...cohort] };
    return this.broadcast('host:round', round, (s) => s.emitWithAck('host:round', msg));
  }

  /** Tells every host the round ended (they rejoin departed clients) and waits; the pools' busy time summed. */
  async roundEnd(round: number): Promise<HostClocks> {
    return this.broadcast('host:round-end', round, (s) => s.emitWithAck('host:round-end', { round }));
  }

  /** The run is over: every host may stop. */
  end(): void {
    this.started = true;
    for (const h of this.hosts.values()) h.socket.emit('host:end');
  }

  private freeShare(): number | undefined {
    for (let k = 0; k < this.opts.count; k++) if (!this.hosts.has(k)) return k;
    return undefined;
  }

  private admit(socket: HostSocket, name: string): void {
    const share = this.freeShare();
    if (share === undefined || this.started) {
      socket.disconnect(true);
      return;
    }
    const host: Host = { socket, name, share, ready: false, clocks: { train: 0, bva: 0 } };
    this.hosts.set(share, host);
    const expected = shareSize(this.opts.numClients, share, this.opts.count);
    this.opts.log(`client host ${name}: share ${share + 1} of ${this.opts.count} (${expected} virtual clients)`);
    socket.on('host:ready', (msg: unknown) => {
      const r = HostReadySchema.safeParse(msg);
      if (!r.success || r.data.clients !== expected) {
        this.opts.log(`client host ${name}: refused: its ready message ${r.success ? `counts ${r.data.clients} clients, not ${expected}` : `is malformed (${firstIssue(r.error)})`}`);
        socket.disconnect(true);
        return;
      }
      host.ready = true;
      this.opts.log(`client host ${name}: ${expected} virtual clients connected`);
      if (this.hosts.size === this.opts.count && [...this.hosts.values()].every((h) => h.ready)) this.allReady();
    });
    socket.on('disconnect', (reason) => {
      if (this.hosts.get(share) !== host) return;
      this.hosts.delete(share);
      if (this.started) {
        this.gone.push(host.clocks);
        this.opts.log(`client host ${name} (share ${share + 1}) left mid-run (${reason}); its clients count as dropouts`);
      } else this.opts.log(`client host ${name} left before the run started (${reason}); share ${share + 1} is free again`);
    });
    socket.emit('host:assign', { share, of: this.opts.count, scenario: this.opts.scenario, clientToken: this.opts.clientToken });
  }

  /** Sends every host a message (`send`, on the host's socket with the acknowledgement timeout) and sums their clocks. */
  private async broadcast(event: 'host:round' | 'host:round-end', round: number, send: (s: TimedHostSocket) => Promise<unknown>): Promise<HostClocks> {
    const timeout = this.opts.ackTimeoutMs ?? 600_000;
    await Promise.all(
      [...this.hosts.values()].map(async (h) => {
        let answer: unknown;
        try {
          answer = await send(h.socket.timeout(timeout));
        } catch (err) {
          // Gone (its disconnect says so) or silent: the round goes on without it.
          this.opts.log(`client host ${h.name}: no acknowledgement of ${event} ${round} (${messageOf(err)})`);
          return;
        }
        const c = HostClocksSchema.safeParse(answer);
        if (c.success) h.clocks = c.data;
        else this.opts.log(`client host ${h.name}: ignored a malformed acknowledgement of ${event} (${firstIssue(c.error)})`);
      }),
    );
    const all = [...[...this.hosts.values()].map((h) => h.clocks), ...this.gone];
    return { train: all.reduce((a, c) => a + c.train, 0), bva: all.reduce((a, c) => a + c.bva, 0) };
  }
}
