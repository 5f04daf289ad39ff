/** `rfl coordinator`: a real coordinator that edge clients join over socket.io (server/cli.ts). */
import type { CommandSpec } from '../spec.js';

/** `rfl coordinator enrol`: identity files and the enrolment list (server/enrol-cli.ts). */
export const coordinatorEnrol: CommandSpec = {
  name: 'enrol',
  summary: 'enrol clients: one identity file per client and the enrolment list the coordinator admits',
  description:
    "Against Sybils: with --enrolment, the coordinator admits only listed clients, each proving its key at every connection, and every enrolled identity counts as its own principal in secure aggregation's privacy check.",
  options: {
    ids: { help: 'client ids to enrol, comma-separated', arg: 'A,B,…', required: true },
    'keys-dir': { help: 'where to write <id>.key (mode 0600; never overwritten)', arg: 'DIR', default: 'keys' },
    out: { help: 'the enrolment file to create or extend', arg: 'FILE', default: 'enrolment.json' },
  },
  examples: ['rfl coordinator enrol --ids alice,bob,carol', 'rfl client --server http://coordinator:8080 --id alice --identity-file keys/alice.key --data ./alice-data'],
  load: () => import('../../server/enrol-cli.js'),
};

export const coordinator: CommandSpec = {
  subcommands: [coordinatorEnrol],
  name: 'coordinator',
  summary: 'start a coordinator that real clients join (rounds, secure aggregation, Decent_BVA, checkpoints)',
  description:
    "Command-line values override the --config file's. The run directory receives a checkpoint after every round; " +
    'a killed coordinator continues with --resume DIR and loses at most the round in progress.',
  options: {
    config: { help: 'JSON file, every key checked: { federated, secure, secagg, aggregation, tokens, port, host, runDir, dataset, dataDir, minClients, timeoutsMs }', arg: 'FILE' },
    port: { help: 'listen port (0 picks a free one)', arg: 'N', kind: 'int', min: 0, max: 65535, defaultNote: "the config's, else 8080" },
    host: { help: 'listen address (0.0.0.0 accepts other machines)', arg: 'HOST', defaultNote: "the config's, else 127.0.0.1" },
    tokens: { help: 'accepted client tokens, comma-separated (required without --enrolment)', arg: 'A,B,…' },
    'tokens-file': { help: 'accepted client tokens, one per line', arg: 'FILE' },
    'observer-token': { help: 'token of the read-only observer namespace behind the live dashboard at / (differs from every client token)', arg: 'TOKEN' },
    'run-dir': { help: 'directory for checkpoints, metrics.jsonl and identities.json', arg: 'DIR', defaultNote: "the config's, else runs/coordinator" },
    resume: { help: 'continue the run in DIR from its last completed round', arg: 'DIR' },
    method: { help: 'training method (docs/spec/decent-bva.md §2)', arg: 'NAME', defaultNote: "the config's, else fed-bva" },
    rounds: { help: 'rounds of federated training', arg: 'N', kind: 'int', min: 1, max: 100000, defaultNote: "the config's, else 5" },
    clients: { help: 'number of clients N the run expects', arg: 'N', kind: 'int', min: 1, max: 100000, defaultNote: "the config's, else 3" },
    fraction: { help: "fraction of the clients in each round's cohort", arg: 'F', kind: 'number', min: 0, max: 1, defaultNote: "the config's, else 1" },
    'local-epochs': { help: 'local epochs per round', arg: 'N', kind: 'int', min: 1, max: 10000, defaultNote: "the config's, else the method's" },
    seed: { help: 'seed of initial weights, shared set and cohorts', arg: 'N', kind: 'int', min: 0, max: 4294967295, defaultNote: "the config's" },
    'min-clients': { help: 'clients that must be connected before a round starts', arg: 'N', kind: 'int', min: 1, max: 100000, defaultNote: 'the cohort size' },
    'eval-every': { help: 'evaluate the global model every N rounds', arg: 'N', kind: 'int', min: 1, max: 100000, defaultNote: "the config's" },
    plaintext: { help: 'no secure aggregation: clients upload their weights (comparison mode)' },
    aggregation: { help: 'aggregation rule as JSON, e.g. \'{"rule":"median"}\' (plaintext) or \'{"rule":"grouped","groups":3,"across":"median"}\'', arg: 'JSON', defaultNote: 'mean' },
    dataset: { help: "the coordinator's data (shared set D_s and test set): a dataset name", arg: 'NAME', defaultNote: "the config's, else mnist-embedded" },
    'data-dir': { help: "directory of the dataset's IDX files", arg: 'DIR' },
    enrolment: { help: 'admit only the clients in this enrolment file, each with its key (rfl coordinator enrol); tokens then optional', arg: 'FILE' },
    'max-identities-per-token': { help: 'without --enrolment: the most client identities one token may bind (Sybils cost tokens)', arg: 'N', kind: 'int', min: 1, max: 1000000, default: '1' },
    'max-connections': { help: 'the most connections at once, proven or not', arg: 'N', kind: 'int', min: 1, max: 1000000, default: '10000' },
  },
  examples: [
    'rfl coordinator enrol --ids alice,bob,carol --keys-dir keys --out enrolment.json',
    'rfl coordinator --enrolment enrolment.json --clients 3 --rounds 5 --port 8080',
    'rfl coordinator --tokens alpha,beta,gamma --clients 3 --rounds 5 --port 8080',
    'rfl coordinator --resume runs/coordinator --enrolment enrolment.json',
  ],
  load: () => import('../../server/cli.js'),
};
