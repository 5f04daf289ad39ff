/** `rfl client`: a real edge client (client/cli.ts). */
import type { CommandSpec } from '../spec.js';

export const client: CommandSpec = {
  name: 'client',
  summary: 'join a coordinator as an edge client that trains on its own data',
  description:
    'Keeps its Ed25519 identity in a file, reconnects with backoff, and answers every stage of every round until the coordinator finishes (Ctrl-C to leave). ' +
    'Give exactly one of --data DIR or --embedded --partition K.',
  options: {
    server: { help: 'coordinator URL, e.g. http://localhost:8080', arg: 'URL', kind: 'url', required: true },
    token: { help: 'a token the coordinator accepts (not needed by one started with --enrolment)', arg: 'TOKEN', defaultNote: 'none' },
    id: { help: 'client id', arg: 'NAME', defaultNote: "the identity file's base name, else client-<partition>" },
    'identity-file': { help: 'Ed25519 identity: from rfl coordinator enrol, or created on first use with mode 0600', arg: 'FILE', defaultNote: '~/.robust-fl/<id>.key' },
    data: { help: 'local training data: a directory of IDX files (train-images…, train-labels…)', arg: 'DIR' },
    embedded: { help: 'demo data: the embedded MNIST digits, IID part --partition of --clients (shared set excluded, as the coordinator does)' },
    partition: { help: "with --embedded: this client's part K", arg: 'K', kind: 'int', min: 0, max: 99999 },
    clients: { help: "with --embedded: number of parts N (must match the coordinator's)", arg: 'N', kind: 'int', min: 1, max: 100000, default: '3' },
    seed: { help: "with --embedded: partition seed (must match the coordinator's)", arg: 'N', kind: 'int', min: 0, max: 4294967295, default: '1' },
    'shared-set-size': { help: "with --embedded: the shared set's size (must match the coordinator's)", arg: 'M', kind: 'int', min: 1, max: 100000, unit: 'images', default: '64' },
    'max-retries': {
      help: 'consecutive failed reconnection attempts (backoff 0.5 s doubling to 10 s) before the client stops with exit code 1',
      arg: 'N',
      kind: 'int',
      min: 0,
      max: 1000000,
      default: '20',
    },
  },
  examples: ['rfl client --server http://localhost:8080 --token alpha --embedded --partition 0'],
  load: () => import('../../client/cli.js'),
};
