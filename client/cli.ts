/**
 * `rfl client --server URL --token T (--data DIR | --embedded --partition K) [options]`: a real edge
 * client. It trains on its own data, keeps its Ed25519 identity in a file, reconnects with backoff, and
 * answers every stage of every round until the coordinator finishes (Ctrl-C to leave).
 *
 *   --server URL          coordinator URL, e.g. http://localhost:8080
 *   --token T             a token the coordinator accepts (not needed by one that admits enrolled clients)
 *   --id NAME             client id (default: the identity file's base name)
 *   --identity-file F     Ed25519 identity (created on first use, mode 0600; default ~/.robust-fl/<id>.key)
 *   --data DIR            local training data: a directory of MNIST-format IDX files (train-images…)
 *   --embedded            demo data: the embedded MNIST digits, IID part K of N (D_s excluded, as the coordinator)
 *   --partition K --clients N --seed S --shared-set-size M   (for --embedded; must match the coordinator's)
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { initBackend } from '../shared/compute/backend.js';
import { loadDataset, loadIdxTrainOnly, partition, sampleSharedSet } from '../shared/data/index.js';
import { range } from '../shared/train/batches.js';
import { intFlag } from '../shared/util/flags.js';
import { connect } from './session.js';
import { describeConnectError } from './connect-error.js';
import { loadOrCreateIdentity } from './identity-file.js';
import { UsageError } from '../shared/util/usage-error.js';
import { CodedError, peerErrorCode } from '../shared/errors/catalogue.js';
import { LocalTrainer } from './trainer.js';

/** The options, in node:util parseArgs form; `rfl` gives each its help text (cli/commands/). */
export const OPTIONS = {
  server: { type: 'string' },
  token: { type: 'string' },
  id: { type: 'string' },
  'identity-file': { type: 'string' },
  data: { type: 'string' },
  embedded: { type: 'boolean' },
  partition: { type: 'string' },
  clients: { type: 'string', default: '3' },
  seed: { type: 'string', default: '1' },
  'shared-set-size': { type: 'string', default: '64' },
  'max-retries': { type: 'string', default: '20' },
} satisfies ParseArgsOptionsConfig;

/** Runs the command; `argv` is its arguments (without node and the script). */
export async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({ args: [...argv], options: OPTIONS });
  if (values.server === undefined) throw new UsageError('--server URL is required (e.g. --server http://localhost:8080)', ['server']);
  if ((values.data === undefined) === (values.embedded !== true)) throw new UsageError('give exactly one of --data DIR or --embedded --partition K', ['data', 'embedded']);
  // Every check of the flags before anything is written (the identity file) or loaded (the backend).
  if (values.embedded === true) {
    if (values.partition === undefined) throw new UsageError("--embedded needs --partition K: this client's part, 0 ≤ K < --clients", ['partition']);
    const k = intFlag('partition', values.partition, 0);
    const n = intFlag('clients', values.clients, 1);
    if (k >= n) throw new UsageError(`--partition ${k}: must be below --clients ${n}`, ['partition']);
  }

  const id = values.id ?? (values['identity-file'] !== undefined ? path.basename(values['identity-file']).replace(/\.key$/, '') : `client-${values.partition ?? '0'}`);
  const keyFile = values['identity-file'] ?? path.join(os.homedir(), '.robust-fl', `${id}.key`);
  const identity = loadOrCreateIdentity(keyFile, (f) => console.error(`created identity ${f}`));

  await initBackend();
  let trainer: LocalTrainer;
  if (values.data !== undefined) {
    // A client holds training data only: the train-images/train-labels pair of an IDX directory.
    const train = loadIdxTrainOnly(values.data);
    trainer = new LocalTrainer(train, range(train.count));
    console.error(`client ${id}: ${train.count} local examples from ${values.data}`);
  } else {
    const k = intFlag('partition', values.partition, 0);
    const n = intFlag('clients', values.clients, 1);
    if (k >= n) throw new UsageError(`--partition ${k}: must be below --clients ${n}`, ['partition']);
    const seed = intFlag('seed', values.seed, 0);
    const { train } = loadDataset('mnist-embedded');
    const shared = sampleSharedSet(train.count, intFlag('shared-set-size', values['shared-set-size'], 1), seed);
    const parts = partition(train.labels, { kind: 'iid' }, n, seed, shared);
    trainer = new LocalTrainer(train, parts[k]!);
    console.error(`client ${id}: embedded MNIST part ${k} of ${n} (${parts[k]!.length} examples)`);
  }

  const maxRetries = intFlag('max-retries', values['max-retries'], 0);
  const session = connect(values.server, { clientId: id, token: values.token ?? 'none', identity, trainer, maxReconnectAttempts: maxRetries, log: (l) => console.error(`client ${id}: ${l}`) });
  session.socket.on('auth:accepted', () => console.error(`client ${id}: connected to ${values.server}; identity proven`));
  session.socket.on('disconnect', (reason) => {
    // 'io client disconnect' is this client leaving on purpose; anything else is retried with backoff.
    console.error(`client ${id}: disconnected (${reason})${reason === 'io client disconnect' ? '' : '; reconnecting'}`);
  });
  session.socket.on('connect_error', (err: Error & { data?: { code?: string } }) => {
    // A refusal (wrong token, another protocol version, an id bound to another key) will not change on retry.
    const code = err.data?.code;
    if (code === 'busy') {
      // A full coordinator is a passing state: try again later (socket.io does not retry a refused handshake).
      console.error(`client ${id}: ${err.message}; retrying in 5 s`);
      setTimeout(() => session.socket.connect(), 5000);
      return;
    }
    if (code !== undefined) {
      session.close();
      throw new RefusedError(
        `the coordinator at ${values.server} refused client ${id}: ${err.message}${code === 'auth' && /token/.test(err.message) ? " (fix: --token must be one of the coordinator's --tokens)" : ''}`,
        code,
      );
    }
    console.error(`client ${id}: ${describeConnectError(values.server!, err)}; retrying`);
  });
  let lastCause = '';
  session.socket.on('connect_error', (err: Error) => (lastCause = describeConnectError(values.server!, err)));
  // The coordinator is gone for good (its run ended while this client was away, or it is down): stop, named.
  session.socket.io.on('reconnect_failed', () => {
    session.close();
    throw new CoordinatorGoneError(`the coordinator at ${values.server} did not come back after ${maxRetries} reconnection attempts (last: ${lastCause || 'no answer'}); start it, or check --server`);
  });
  // The coordinator's notices, validated by the session (a malformed refusal arrives as one, saying so).
  session.on('auth:refused', (msg) => {
    session.close();
    throw new RefusedError(`the coordinator at ${values.server} refused client ${id}'s identity proof: ${msg.message}`, msg.code);
  });
  session.on('run:end', (msg) => {
    console.error(`client ${id}: the coordinator finished the run (${msg.rounds} rounds); leaving`);
    // Let the acknowledgement (sent by the session) go out before the connection closes.
    setImmediate(() => {
      session.close();
      trainer.dispose();
      process.exit(0);
    });
  });
  process.on('SIGINT', () => {
    session.close();
    trainer.dispose();
    process.exit(130);
  });
}

/** The coordinator refused this client for a reason a retry cannot fix; rfl prints it as one line, exit code 2. */
class RefusedError extends CodedError {
  override readonly name = 'RefusedError';
  readonly fields = ['token'];
  /** `code` is the coordinator's refusal code, as it sent it. */
  constructor(message: string, code: unknown) {
    super(peerErrorCode(code, 'auth'), message);
  }
}

/** The coordinator did not come back within the reconnection attempts; rfl prints it as one line, exit code 1. */
export class CoordinatorGoneError extends CodedError<'unreachable'> {
  override readonly name = 'CoordinatorGoneError';

  /** `message` names the address and the last cause. */
  constructor(message: string) {
    super('unreachable', message);
  }
}
