/**
 * A client host (`rfl client-host`): a process, on any machine that reaches the coordinator, that runs a share of
 * a simulation's virtual clients with its own piscina pool, against the one coordinator of `rfl simulate --hosts N`.
 * It joins the coordinator's `/hosts` channel (protocol.ts), receives its share and the scenario (validated here as
 * a scenario file is), loads the data and connects clients k, k + n, k + 2n, …: the same sessions, identities,
 * trainers and corruption plan as in one process, so a seeded run ends with the same weights however its clients
 * are spread. It stops when the run ends.
 */
import * as os from 'node:os';
import { io, type Socket } from 'socket.io-client';
import { describeConnectError, isTransportError } from '../../client/connect-error.js';
import type { ClientSession } from '../../client/session.js';
import type { BackendName } from '../../shared/compute/backend.js';
import { initBackend } from '../../shared/compute/backend.js';
import { loadDatasetAsync } from '../../shared/data/index.js';
import { partition, sampleSharedSet } from '../../shared/data/partition.js';
import { clientIdOf } from '../../shared/federated/secure-model.js';
import { modelModuleOf } from '../../shared/models/module-loader.js';
import { firstIssue } from '../benchmark/queue/protocol.js';
import { needsHonestUpdates } from '../behaviors/index.js';
import { CorruptionPlan } from '../corruption-plan.js';
import { SimulationPool } from '../pool/pool.js';
import { prepareScenario } from '../scenario.js';
import { scenarioFromWire } from '../scenario-wire.js';
import { connectVirtualClients, rejoin } from '../virtual-clients.js';
import {
  HostAssignSchema,
  HostRoundEndSchema,
  HostRoundSchema,
  HOSTS_NAMESPACE,
  HOSTS_PROTOCOL,
  type HostAuth,
  type HostClientToServer,
  type HostClocks,
  type HostServerToClient,
} from './protocol.js';

/** Options of `runClientHost`. */
export interface ClientHostOptions {
  /** The simulation's coordinator, e.g. http://10.0.0.1:8080. */
  url: string;
  /** The token `rfl simulate --hosts` printed (or was given). */
  token: string;
  /** Shown in the simulation's log (default `<hostname>:<pid>`). */
  name?: string;
  /** Worker threads of this host's pool (default: the scenario's, else one per core). */
  workers?: number;
  backend?: BackendName;
  /** Attempts to reach the coordinator before giving up, about a second apart (default 30). */
  maxRetries?: number;
  log?: (line: string) => void;
}

/** What a host did. */
export interface ClientHostSummary {
  share: number;
  of: number;
  clients: number;
}

/** Runs a share of a simulation's clients until the run ends; rejects with one line if it cannot. */
export async function runClientHost(o: ClientHostOptions): Promise<ClientHostSummary> {
  const log = o.log ?? ((line: string) => console.error(line));
  const name = o.name ?? `${os.hostname()}:${process.pid}`;
  const url = o.url.replace(/\/+$/, '');
  const auth: HostAuth = { protocol: HOSTS_PROTOCOL, token: o.token, name };
  const socket: Socket<HostServerToClient, HostClientToServer> = io(`${url}${HOSTS_NAMESPACE}`, {
    auth,
    transports: ['websocket'],
    reconnectionAttempts: o.maxRetries ?? 30,
    reconnectionDelay: 1000,
    reconnectionDelayMax: 5000,
  });
  let sessions = new Map<string, ClientSession>();
  let pool: SimulationPool | undefined;
  try {
    const assigned = await new Promise<unknown>((resolve, reject) => {
      let told = false;
      socket.once('host:assign', resolve);
      socket.on('connect_error', (err) => {
        const line = describeConnectError(url, err);
        // A refusal (token, protocol, shares taken) is final; a transport failure is retried.
        if (!isTransportError(err)) reject(new Error(line));
        else if (!told) {
          told = true;
          log(`${line}; retrying`);
        }
      });
      socket.io.once('reconnect_failed', () => reject(new Error(`cannot reach the simulation at ${url} after ${o.maxRetries ?? 30} attempts`)));
    });
    // Once it has a share, a lost connection ends the host's part rather than starting another.
    socket.io.reconnection(false);
    const a = HostAssignSchema.safeParse(assigned);
    if (!a.success) throw new Error(`the simulation at ${url} sent a malformed assignment (${firstIssue(a.error)})`);
    const { share, of, clientToken } = a.data;
    const scenario = await prepareScenario(scenarioFromWire(a.data.scenario));
    const cfg = scenario.federated;
    const b = scenario.corrupted?.behavior;
    if (b !== undefined && needsHonestUpdates(b)) throw new Error(`${b.kind} needs every honest update of a cohort, which no single host sees; run it without --hosts`);
    await initBackend({ quiet: true, ...(o.backend !== undefined ? { backend: o.backend } : {}) });
    const data = await loadDatasetAsync(scenario.dataset, scenario.dataDir !== undefined ? { dir: scenario.dataDir } : {});
    // Exactly the simulation's split: the coordinator draws D_s with the run seed; clients hold the rest.
    const sharedIdx = sampleSharedSet(data.train.count, cfg.sharedSetSize, cfg.seed);
    const parts = partition(data.train.labels, cfg.partition, cfg.numClients, cfg.seed, sharedIdx);
    const ids = parts.map((_, k) => clientIdOf(k));
    const mine = ids.flatMap((id, index) => (index % of === share ? [{ id, index }] : []));
    const modelModule = modelModuleOf(cfg.model);
    pool = new SimulationPool({
      train: data.train,
      test: data.test,
      parts,
      gpuEval: false,
      ...((o.workers ?? scenario.workers) ? { workers: o.workers ?? scenario.workers } : {}),
      ...(o.backend !== undefined ? { backend: o.backend } : {}),
      ...(scenario.extensions !== undefined ? { extensions: scenario.extensions } : {}),
      ...(modelModule !== undefined ? { modelModules: [modelModule] } : {}),
    });
    const p = pool;
    const plan = new CorruptionPlan(scenario.corrupted, cfg.seed, ids);
    const clocks = (): HostClocks => ({ train: p.clocks.train.busyMs(), bva: p.clocks.bva.busyMs() });
    const ended = new Promise<void>((resolve, reject) => {
      socket.on('host:round', (msg, ack) => {
        const r = HostRoundSchema.safeParse(msg);
        if (!r.success) return log(`ignored a malformed round message (${firstIssue(r.error)})`);
        plan.startRound(r.data.round, r.data.cohort);
        if (typeof ack === 'function') ack(clocks());
      });
      socket.on('host:round-end', (msg, ack) => {
        const r = HostRoundEndSchema.safeParse(msg);
        if (!r.success) return log(`ignored a malformed round-end message (${firstIssue(r.error)})`);
        plan.endRound(r.data.round);
        // Clients that left on purpose (crash with rejoin) come back before the next cohort is drawn.
        const back = [...plan.rejoining].flatMap((id) => (sessions.has(id) ? [rejoin(sessions.get(id)!)] : []));
        plan.rejoining.clear();
        void Promise.all(back).then(
          () => (typeof ack === 'function' ? ack(clocks()) : undefined),
          (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
        );
      });
      socket.on('host:end', () => resolve());
      socket.on('disconnect', (reason) => reject(new Error(`lost the simulation at ${url} before the run ended (${reason})`)));
    });
    log(`client host ${name}: share ${share + 1} of ${of} of scenario ${scenario.name}: connecting ${mine.length} virtual clients to ${url}`);
    sessions = await connectVirtualClients({ url, token: clientToken, seed: cfg.seed, clients: mine, pool, plan, log: () => undefined });
    socket.emit('host:ready', { clients: mine.length });
    log(`client host ${name}: ${mine.length} virtual clients connected; the run starts when every share is`);
    await ended;
    log(`client host ${name}: the run is over`);
    return { share, of, clients: mine.length };
  } finally {
    for (const s of sessions.values()) s.close();
    socket.close();
    await pool?.close();
  }
}
