/**
 * The `/hosts` namespace of a simulation's coordinator (`rfl simulate --hosts N`): how client hosts (`rfl
 * client-host`, hosts/client-host.ts) get their share of the virtual clients, and how the simulation keeps their
 * corruption plans in step with its rounds. The virtual clients themselves talk to the coordinator on `/`, exactly as
 * in one process; this channel carries only the scenario, the shares and the rounds' cohorts. Every message is
 * checked with these schemas on arrival (either side's data is the other's untrusted input).
 *
 * 1. A host connects with `HostAuth`; a wrong token or protocol is refused at the handshake.
 * 2. The simulation sends `host:assign` (share k of n, the scenario as scenario-file fields, the clients' token).
 * 3. The host connects clients k, k + n, k + 2n, … and sends `host:ready`.
 * 4. Once every share is ready, the rounds run. Before each round's requests go out, the simulation sends
 *    `host:round` (the cohort, so every host's plan draws the same corrupted members) and waits for every host's
 *    acknowledgement; after the round, `host:round-end` (the host rejoins clients that crashed on purpose). Both
 *    acknowledgements carry the host pool's busy time, for the round's time split.
 * 5. `host:end` when the run is over.
 */
import { z } from 'zod';

/** Version of this channel; the two sides must speak the same. */
export const HOSTS_PROTOCOL = 1;

/** The namespace on the coordinator's socket.io server. */
export const HOSTS_NAMESPACE = '/hosts';

/** What a host presents at the handshake. */
export const HostAuthSchema = z
  .object({
    protocol: z.literal(HOSTS_PROTOCOL),
    token: z.string().min(1).max(1000),
    /** Shown in the simulation's log. */
    name: z.string().min(1).max(200),
  })
  .strict();
export type HostAuth = z.infer<typeof HostAuthSchema>;

/** The simulation's answer: the host's share of the clients. */
export const HostAssignSchema = z
  .object({
    share: z.number().int().min(0),
    of: z.number().int().min(1),
    /** The scenario as scenario-file fields (scenario-wire.ts); the host validates it as a file. */
    scenario: z.record(z.string(), z.unknown()),
    /** The token the virtual clients present to the coordinator. */
    clientToken: z.string().min(1).max(1000),
  })
  .strict()
  .refine((a) => a.share < a.of, { message: 'share must be below of', path: ['share'] });
export type HostAssign = z.infer<typeof HostAssignSchema>;

/** A host is ready: this many clients connected and admitted. */
export const HostReadySchema = z.object({ clients: z.number().int().min(0) }).strict();
export type HostReady = z.infer<typeof HostReadySchema>;

/** A round starts with this cohort (sorted client ids). */
export const HostRoundSchema = z
  .object({
    round: z.number().int().min(1),
    cohort: z.array(z.string().min(1).max(200)).max(1_000_000),
  })
  .strict();
export type HostRound = z.infer<typeof HostRoundSchema>;

/** A round ended. */
export const HostRoundEndSchema = z.object({ round: z.number().int().min(1) }).strict();
export type HostRoundEnd = z.infer<typeof HostRoundEndSchema>;

/** A host's acknowledgement: its pool's busy wall time so far, in ms (training, and Decent_BVA statistics). */
export const HostClocksSchema = z.object({ train: z.number().finite().min(0), bva: z.number().finite().min(0) }).strict();
export type HostClocks = z.infer<typeof HostClocksSchema>;

/** The events of the channel. */
export interface HostServerToClient {
  'host:assign': (msg: HostAssign) => void;
  'host:round': (msg: HostRound, ack: (clocks: HostClocks) => void) => void;
  'host:round-end': (msg: HostRoundEnd, ack: (clocks: HostClocks) => void) => void;
  'host:end': () => void;
}
export interface HostClientToServer {
  'host:ready': (msg: HostReady) => void;
}
