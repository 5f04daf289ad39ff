/** `rfl client-host`: a share of a simulation's virtual clients on this machine (simulations/client-host-cli.ts). */
import { BACKEND_OPTION, type CommandSpec } from '../spec.js';

export const clientHost: CommandSpec = {
  name: 'client-host',
  summary: 'run a share of the virtual clients of rfl simulate --hosts N on this machine, with its own worker pool',
  description:
    'Joins the simulation’s coordinator, receives its share (clients k, k + n, k + 2n, …) and the scenario, and connects those clients, ' +
    'computing on a worker pool here; the coordinator stays one process. The machine needs the scenario’s data (and any model or extension module, at the same relative path). ' +
    'It stops when the run ends. docs/distributed.md.',
  options: {
    url: { help: 'the simulation’s coordinator, as rfl simulate --hosts printed it', arg: 'URL', kind: 'url', required: true },
    token: { help: 'the token rfl simulate --hosts printed (or was given)', arg: 'TOKEN', required: true },
    workers: { help: 'worker threads of this host’s pool', arg: 'N', kind: 'int', min: 1, max: 1024, defaultNote: "the scenario's, else one per core" },
    name: { help: 'the name the simulation’s log shows for this host', arg: 'TEXT', defaultNote: '<hostname>:<pid>' },
    'max-retries': { help: 'attempts to reach the coordinator, about a second apart, before giving up', arg: 'N', kind: 'int', min: 1, max: 100000, default: '30' },
    backend: BACKEND_OPTION,
  },
  examples: ['rfl client-host --url http://10.0.0.1:8080 --token 3f1c…', 'rfl client-host --url http://sim.lab:8080 --token 3f1c… --workers 8'],
  load: () => import('../../simulations/client-host-cli.js'),
};
