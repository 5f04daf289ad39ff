/**
 * Who may join the coordinator's rounds: the handshake check (protocol version, token, enrolment list or open
 * enrolment's per-token cap, connection cap) and then the identity challenge (shared/protocol/identity-proof.ts):
 * a connection joins the transport's registry, and so can be drawn into a cohort, only once it has signed a fresh
 * nonce with the key it claimed. A proven connection replaces an older one of the same identity (a client that
 * reconnected before its old socket timed out).
 */
import type { ExtendedError } from 'socket.io';
import { messageOf } from '../shared/errors/catalogue.js';
import { ProtocolError, type ProtocolErrorCode } from '../shared/protocol/errors.js';
import { proofNonce, verifyProof } from '../shared/protocol/identity-proof.js';
import { parseHello, parseIdentityProof } from '../shared/protocol/schemas.js';
import { ClientRegistry, tokenDigest } from './registry.js';
import { ackOrTimeout, type Deadline, type ServerSocket } from './socket-ack.js';
import type { SocketTransport } from './engine/socket-transport.js';

/** What admission checks against. */
export interface AdmissionOptions {
  tokens: ReadonlySet<string>;
  /** Enrolled mode: client id → identity key; undefined: open enrolment. */
  enrolment: Map<string, Uint8Array> | undefined;
  maxIdentitiesPerToken: number;
  maxConnections: number;
  registry: ClientRegistry;
  transport: SocketTransport;
  /** Connections at the moment, proven or not. */
  connections: () => number;
  /** The identity challenge's timeout. */
  authDeadline: Deadline;
  /** Set once every round is done: a client admitted then gets `run:end` at once. */
  finishedAfter: () => number | undefined;
  log: (line: string) => void;
}

/**
 * A handshake refusal as socket.io hands it to the client: the message, and the code in `data` (the client's
 * `connect_error` carries both).
 */
class HandshakeRefusal extends ProtocolError implements ExtendedError {
  readonly data: { code: ProtocolErrorCode };

  constructor(refusal: ProtocolError) {
    super(refusal.code, refusal.message);
    this.data = { code: refusal.code };
  }
}

/** The handshake middleware and the identity challenge. */
export class Admission {
  /** Open enrolment: connections still proving a new identity, by socket id (counted against the token's cap). */
  private readonly pendingClaims = new Map<string, { token: string; clientId: string }>();

  constructor(private readonly o: AdmissionOptions) {}

  /** socket.io middleware: checks the handshake before the connection is accepted. */
  readonly check = (socket: ServerSocket, next: (err?: ExtendedError) => void): void => {
    const o = this.o;
    try {
      const hello = parseHello(socket.handshake.auth);
      // With an enrolment list the enrolled key is the credential and tokens are optional.
      if ((o.enrolment === undefined || o.tokens.size > 0) && !o.tokens.has(hello.token)) throw new ProtocolError('auth', 'invalid token');
      // Counted after the token check, over authenticated connections only, so strangers cannot fill it.
      if (o.connections() >= o.maxConnections) throw new ProtocolError('busy', `the coordinator holds its maximum of ${o.maxConnections} connections; try again later`);
      if (o.enrolment !== undefined) {
        const enrolled = o.enrolment.get(hello.clientId);
        if (enrolled === undefined) throw new ProtocolError('not-enrolled', `client ${hello.clientId} is not enrolled (rfl coordinator enrol)`);
        if (Buffer.compare(Buffer.from(enrolled), Buffer.from(hello.identityPk)) !== 0) throw new ProtocolError('not-enrolled', `client ${hello.clientId} is enrolled with another identity key`);
      } else if (!o.registry.has(hello.clientId) && this.claimsOfToken(tokenDigest(hello.token), hello.clientId) >= o.maxIdentitiesPerToken) {
        // Open enrolment: a token binds at most maxIdentitiesPerToken identities (Sybils cost tokens), counting the
        // claims still proving themselves, so many connections at once cannot slip past the cap.
        throw new ProtocolError('sybil-cap', `this token has bound its maximum of ${o.maxIdentitiesPerToken} client identities; enrol clients (rfl coordinator enrol) or use one token per client`);
      }
      // Only a check here: the id is bound to the key once the client has proved it holds the key.
      o.registry.check(hello.clientId, hello.identityPk);
      socket.data.clientId = hello.clientId;
      socket.data.identityPk = hello.identityPk;
      socket.data.tokenDigest = tokenDigest(hello.token);
      if (o.enrolment === undefined && !o.registry.has(hello.clientId)) this.pendingClaims.set(socket.id, { token: socket.data.tokenDigest, clientId: hello.clientId });
      next();
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('auth', messageOf(err));
      o.log(`refused a connection: ${e.code}: ${e.message}`);
      next(new HandshakeRefusal(e));
    }
  };

  /** The identity challenge of an accepted connection; the connection joins the registry once it passes. */
  async prove(socket: ServerSocket): Promise<void> {
    try {
      await this.proveOnce(socket);
    } finally {
      this.pendingClaims.delete(socket.id);
    }
  }

  private async proveOnce(socket: ServerSocket): Promise<void> {
    const o = this.o;
    const id = socket.data.clientId;
    const pk = socket.data.identityPk;
    const nonce = proofNonce();
    try {
      const res = await ackOrTimeout(socket, { nonce: Buffer.from(nonce).toString('hex') }, o.authDeadline);
      const signature = parseIdentityProof(res);
      if (!verifyProof(nonce, id, pk, signature)) throw new ProtocolError('auth', `client ${id}: the identity proof does not verify against the claimed key`);
      if (o.enrolment === undefined && !o.registry.has(id) && o.registry.identitiesOfToken(socket.data.tokenDigest) >= o.maxIdentitiesPerToken) {
        throw new ProtocolError('sybil-cap', `this token has bound its maximum of ${o.maxIdentitiesPerToken} client identities`);
      }
      o.registry.bind(id, pk, o.enrolment !== undefined ? '' : socket.data.tokenDigest);
    } catch (err) {
      const e = err instanceof ProtocolError ? err : new ProtocolError('auth', messageOf(err));
      o.log(`refused client ${id}: ${e.code}: ${e.message}`);
      if (socket.connected) {
        socket.emit('auth:refused', { code: e.code, message: e.message });
        socket.disconnect(true);
      }
      return;
    }
    if (!socket.connected) return;
    const stale = o.transport.attach(id, socket);
    if (stale !== undefined) {
      o.log(`client ${id} proved its identity on a new connection; closing its older one`);
      stale.disconnect(true);
    }
    o.log(`client ${id} connected (${o.transport.size} connected)`);
    socket.emit('auth:accepted');
    const finished = o.finishedAfter();
    if (finished !== undefined) socket.emit('run:end', { rounds: finished }, () => undefined);
  }

  /** Identities a token holds or is claiming: those bound to it plus distinct new ids still proving themselves. */
  private claimsOfToken(token: string, except: string): number {
    const pending = new Set([...this.pendingClaims.values()].filter((c) => c.token === token && c.clientId !== except).map((c) => c.clientId));
    return this.o.registry.identitiesOfToken(token) + pending.size;
  }
}
