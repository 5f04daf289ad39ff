/** `rfl simulate`: a simulated federation from a scenario file (simulations/simulate.ts). */
import { BACKEND_OPTION, type CommandSpec } from '../spec.js';

export const simulate: CommandSpec = {
  name: 'simulate',
  summary: 'simulate a federation of virtual clients from a scenario file (corrupted clients, robust rules, your own model and data)',
  description:
    'Starts a coordinator on a free port (or joins --url) and N virtual clients whose compute runs in a worker pool. ' +
    'Scenario files ship in simulations/scenarios/ (README there); every field can be overridden with --set. ' +
    'Bring your own model, dataset and behaviours with --model, --data and --extension (docs/own-model.md).',
  options: {
    config: { help: 'scenario file (YAML or JSON)', arg: 'FILE', defaultNote: 'simulations/scenarios/quickstart.yaml' },
    set: { help: 'override a scenario field, e.g. --set corrupted.fraction=0.3', arg: 'PATH=VALUE', repeatable: true },
    rounds: { help: 'rounds of federated training', arg: 'N', kind: 'int', min: 1, max: 100000, defaultNote: "the scenario's" },
    clients: { help: 'number of virtual clients N', arg: 'N', kind: 'int', min: 1, max: 100000, defaultNote: "the scenario's" },
    method: { help: 'training method, e.g. fedavg, fed-bva, eat-fed-bva, pgd-at (docs/spec/decent-bva.md §2)', arg: 'NAME', defaultNote: "the scenario's" },
    seed: { help: 'seed of initial weights, partition, shared set and cohorts', arg: 'N', kind: 'int', min: 0, max: 4294967295, defaultNote: "the scenario's" },
    workers: { help: "worker threads doing the clients' compute", arg: 'N', kind: 'int', min: 1, max: 1024, defaultNote: "the scenario's, else one per core" },
    model: { help: 'a built-in model name or a JS module exporting your model (docs/own-model.md)', arg: 'NAME|FILE', defaultNote: "the scenario's" },
    data: { help: 'a dataset name or a directory: IDX files, or PNG images with labels.csv (docs/own-model.md)', arg: 'NAME|DIR', defaultNote: "the scenario's" },
    extension: { help: 'a JS module to import first (it may register models, datasets, behaviours)', arg: 'FILE', repeatable: true },
    out: { help: 'run directory for checkpoint, metrics, rounds.jsonl and results.json', arg: 'DIR', defaultNote: 'runs/<scenario>-<time>' },
    url: { help: 'join this external coordinator instead of starting one (needs --token)', arg: 'URL' },
    token: { help: 'client token the external coordinator accepts; with --hosts, the token client hosts must present', arg: 'TOKEN', defaultNote: 'with --hosts, a random one, printed' },
    hosts: {
      help: 'keep the coordinator here and spread the virtual clients over N client hosts (rfl client-host, on any machines); the rounds start once all have connected',
      arg: 'N',
      kind: 'int',
      min: 1,
      max: 10000,
      defaultNote: 'none: every client runs in this process',
    },
    host: { help: 'with --hosts: the address the coordinator listens on (0.0.0.0: every interface, for hosts on other machines)', arg: 'ADDR', default: '127.0.0.1' },
    port: { help: 'with --hosts: the port the coordinator listens on (0: a free one, printed)', arg: 'N', kind: 'int', min: 0, max: 65535, default: '0' },
    backend: BACKEND_OPTION,
    'no-progress': { help: 'print one line per round instead of a progress bar' },
  },
  examples: [
    'rfl simulate --config simulations/scenarios/sign-flip.yaml --rounds 5',
    'rfl simulate --model ./examples/own-model/my-model.js --data ./examples/own-model/my-data',
    'rfl simulate --config simulations/scenarios/standard.yaml --hosts 2 --host 0.0.0.0 --port 8080   (then on two machines: rfl client-host --url http://<this machine>:8080 --token <printed>)',
  ],
  load: () => import('../../simulations/simulate.js'),
};
