/**
 * A hand-driven socket.io client for hostile-client tests: it sends whatever handshake it is given and answers
 * the identity challenge (shared/protocol/identity-proof.ts) with a signature from whichever key it holds, or
 * not at all, so a test can play an impostor, a replayer or a client that never proves itself.
 */
import { io, type Socket } from 'socket.io-client';
import type nacl from 'tweetnacl';
import { PROTOCOL_VERSION } from '../../shared/protocol/events.js';
import { signProof } from '../../shared/protocol/identity-proof.js';

/** How a raw client answers the identity challenge. */
export type ProofAnswer =
  | { kind: 'sign'; with: nacl.SignKeyPair } // a signature by this key (the claimed one, or another: an impostor)
  | { kind: 'fixed'; signature: Uint8Array } // a recorded signature (a replay)
  | { kind: 'none'; onChallenge?: () => void }; // never answers (onChallenge: told when the challenge came)

export interface RawClient {
  socket: Socket;
  /** The nonces the coordinator sent (one per connection). */
  nonces: Uint8Array[];
  /** The signatures this client sent. */
  signatures: Uint8Array[];
  /** Resolves to 'accepted', or to `refused: <code>: <message>` (identity proof) / `error: <code>: <message>` (handshake). */
  outcome: Promise<string>;
}

/** Connects with handshake claim (clientId, claimed public key) and answers the challenge as `answer` says. */
export function rawClient(url: string, clientId: string, claimedPk: Uint8Array, answer: ProofAnswer, token = 'secret'): RawClient {
  const socket = io(url, { auth: { protocolVersion: PROTOCOL_VERSION, clientId, token, identityPk: Buffer.from(claimedPk).toString('hex') }, reconnection: false, transports: ['websocket'] });
  const nonces: Uint8Array[] = [];
  const signatures: Uint8Array[] = [];
  socket.on('auth:challenge', (msg: { nonce: string }, ack: (r: { signature: string }) => void) => {
    const nonce = Uint8Array.from(Buffer.from(msg.nonce, 'hex'));
    nonces.push(nonce);
    if (answer.kind === 'none') {
      answer.onChallenge?.();
      return;
    }
    const sig = answer.kind === 'sign' ? signProof(nonce, clientId, answer.with) : answer.signature;
    signatures.push(sig);
    ack({ signature: Buffer.from(sig).toString('hex') });
  });
  const outcome = new Promise<string>((resolve) => {
    socket.once('auth:accepted', () => resolve('accepted'));
    socket.once('auth:refused', (m: { code: string; message: string }) => resolve(`refused: ${m.code}: ${m.message}`));
    socket.once('connect_error', (e: Error & { data?: { code?: string } }) => resolve(`error: ${e.data?.code}: ${e.message}`));
  });
  return { socket, nonces, signatures, outcome };
}
