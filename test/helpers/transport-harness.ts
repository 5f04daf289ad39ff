/**
 * The two round transports behind one harness, for the contract test: clients are `InMemoryClient`s either way;
 * over socket.io each runs behind a real socket.io-client connection that answers as `client/session.ts` does
 * (request parsed, reply packed, a thrown error sent back as a typed refusal, `NO_REPLY` never acknowledged).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { io as ioClient, type Socket as ClientSocket } from 'socket.io-client';
import { InMemoryTransport, NO_REPLY, type InMemoryClient } from '../../shared/engine/in-memory-transport.js';
import type { RoundTransport } from '../../shared/engine/transport.js';
import { DEFAULT_TIMEOUTS_MS, type ClientToServerEvents, type ServerToClientEvents, type SocketData } from '../../shared/protocol/events.js';
import { toWireError } from '../../shared/protocol/errors.js';
import { parseStageRequest, parseTrainRequest } from '../../shared/protocol/schemas.js';
import { pack, unpack } from '../../shared/protocol/wire.js';
import { onStageEvents } from '../../client/stage-listeners.js';
import { HELD_MS, HeldDeadlines } from './held-deadlines.js';
import { SocketTransport } from '../../server/engine/socket-transport.js';

/** A transport with clients to connect and disconnect. */
export interface TransportHarness {
  transport: RoundTransport;
  connect(id: string, client: InMemoryClient): Promise<void>;
  /** Disconnects a client; resolves once the transport no longer lists it. */
  disconnect(id: string): Promise<void>;
  close(): Promise<void>;
}

/** The in-memory transport. */
export async function inMemoryHarness(): Promise<TransportHarness> {
  const transport = new InMemoryTransport();
  return {
    transport,
    connect: async (id, client) => transport.add(id, client),
    disconnect: async (id) => transport.remove(id),
    close: async () => undefined,
  };
}

/**
 * The socket.io transport on port 0. Its train and stage deadlines pass only once every request still pending is
 * one that a client decided not to answer (`NO_REPLY`; test/helpers/held-deadlines.ts), so a slow machine never
 * turns an answering client into a timeout.
 */
export async function socketHarness(): Promise<TransportHarness> {
  const http = createServer();
  const server = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(http, { maxHttpBufferSize: 1 << 24 });
  const held = new HeldDeadlines();
  const timeouts = Object.fromEntries(Object.keys(DEFAULT_TIMEOUTS_MS).map((k) => [k, HELD_MS])) as typeof DEFAULT_TIMEOUTS_MS;
  const transport = new SocketTransport(timeouts, () => undefined, held);
  /** Who waits for a client's disconnect to reach the server, by client id. */
  const gone = new Map<string, () => void>();
  server.use((socket, next) => {
    const id: unknown = socket.handshake.auth['clientId'];
    if (typeof id !== 'string') return next(new Error('no client id'));
    socket.data.clientId = id;
    next();
  });
  server.on('connection', (socket) => {
    transport.attach(socket.data.clientId, socket);
    socket.on('disconnect', () => {
      transport.detach(socket.data.clientId, socket);
      gone.get(socket.data.clientId)?.();
    });
    socket.emit('auth:accepted');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', () => resolve()));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const clients = new Map<string, ClientSocket<ServerToClientEvents, ClientToServerEvents>>();
  return {
    transport,
    async connect(id, client) {
      const socket: ClientSocket<ServerToClientEvents, ClientToServerEvents> = ioClient(url, { auth: { clientId: id }, transports: ['websocket'], reconnection: false });
      clients.set(id, socket);
      // Replies are sent as the client returns them, untyped: the coordinator's validation is what is under test.
      const answer = (ack: (res: never) => void, res: unknown): void => (ack as (res: unknown) => void)(pack(res));
      socket.on('round:train', async (raw, ack) => {
        try {
          const reply = await client.train(parseTrainRequest(unpack(raw, 'round:train')));
          if (reply === NO_REPLY) held.withhold();
          else answer(ack, { ok: true, reply });
        } catch (err) {
          answer(ack, { ok: false, error: toWireError(err) });
        }
      });
      onStageEvents(socket, async (stage, raw, ack) => {
        try {
          const request = parseStageRequest(stage, unpack(raw, `secagg:${stage}`));
          if (client.stage === undefined) throw new Error(`${id} takes no secure-aggregation stages`);
          const reply = await client.stage(stage, request);
          if (reply === NO_REPLY) held.withhold();
          else answer(ack, { ok: true, reply });
        } catch (err) {
          answer(ack, { ok: false, error: toWireError(err) });
        }
      });
      socket.on('round:end', (end) => client.roundEnd?.(end));
      await new Promise<void>((resolve) => socket.once('auth:accepted', () => resolve()));
    },
    async disconnect(id) {
      const socket = clients.get(id);
      if (socket === undefined) return;
      clients.delete(id);
      const left = new Promise<void>((resolve) => gone.set(id, resolve));
      socket.close();
      await left;
      gone.delete(id);
    },
    async close() {
      for (const s of clients.values()) s.close();
      transport.close();
      await new Promise<void>((resolve) => {
        void server.close(() => resolve());
      });
    },
  };
}
