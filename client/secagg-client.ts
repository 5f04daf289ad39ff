/**
 * The client side of secure aggregation for one round: an explicit stage machine that answers the
 * coordinator's requests (docs/spec/secure-aggregation.md §4–§6).
 *
 * Bonawitz et al., "Practical Secure Aggregation for Privacy-Preserving Machine Learning", CCS 2017 (arXiv
 * 1611.04482), §4: AdvertiseKeys (`setup`), ShareKeys, then this project's box check (`checkBoxes`, §6.1: the
 * share boxes are opened, and a complaint proved, before anything is masked), MaskedInputCollection (`collectMasked`),
 * ConsistencyCheck (active model) and Unmasking, with double masking and Shamir sharing of the self-mask seed b
 * and of the mask key s^SK. Several sums per round reuse the round's keys with per-(sum, attempt) derived keys
 * and fresh self masks (§5), which needs the client-side share discipline implemented in `unmask`: for each
 * peer, once a self-mask share is released no mask-key share ever is, and vice versa, for the whole round.
 *
 * Every request is checked before it changes anything: its stage must be allowed by the shared transition table,
 * its envelope must match the round, and its content must pass the checks of §4. A failed check throws a typed
 * error (`SecAggStageOrderError` or `SecAggProtocolError`) and leaves the state as it was, except that a
 * protocol violation by the coordinator ends the client's participation in the round (its secrets are wiped).
 */
import type nacl from 'tweetnacl';
import { SHARE_KEYS_PHASE } from '../shared/secagg/labels.js';
import { agree, randomSeed, roundKeyPairs, wipe, type RoundKeyPairs } from '../shared/secagg/keys.js';
import { pairMaskKey, selfMaskKey, shareBoxKey } from '../shared/secagg/kdf.js';
import { maskInput, type PairKey } from '../shared/secagg/prg.js';
import { encodeSharePayload, sealShareBox } from '../shared/secagg/share-boxes.js';
import { commitSeed, signAdvertise, signBoxCheck, signCommit, signConsistency, verifyAdvertise, verifyBoxCheck, verifyConsistency, type SeedCommitment } from '../shared/secagg/signed-messages.js';
import { bytesEqual } from '../shared/secagg/encoding.js';
import { SecAggProtocolError, SecAggStageOrderError } from '../shared/secagg/errors.js';
import { messageOf } from '../shared/errors/catalogue.js';
import { openBoxFrom } from '../shared/secagg/disputes.js';
import {
  NEXT_STAGES,
  type CheckBoxesReply,
  type CheckBoxesRequest,
  type CollectMaskedReply,
  type CollectMaskedRequest,
  type ConsistencyReply,
  type ConsistencyRequest,
  type Envelope,
  type PlannedSum,
  type SetupReply,
  type SetupRequest,
  type ShareBox,
  type ShareKeysReply,
  type ShareKeysRequest,
  type Stage,
  type StageReply,
  type StageRequest,
  type ThreatModel,
  type UnmaskReply,
  type UnmaskRequest,
  type ReshareRequest,
} from '../shared/secagg/messages.js';
import { checkHeadroom, encodeVector, validateSpec, vectorLength, type Rounding, type VectorSpec } from '../shared/secagg/quantize.js';
import { splitSecret } from '../shared/secagg/shamir.js';
import { buildTopology, neighbourIds, type Topology } from '../shared/secagg/topology.js';
import type { Rng } from '../shared/util/random.js';

/** Computes this client's input of a sum: one value array per segment of `spec`, in spec order. */
export type InputProvider = (phase: string, spec: VectorSpec, payload: unknown) => Promise<ArrayLike<number>[]> | ArrayLike<number>[];

/** What a client needs for a round. */
export interface SecAggClientOptions {
  clientId: string;
  /** The client's long-term Ed25519 identity (enrolled with the coordinator). */
  identity: nacl.SignKeyPair;
  /** Identity public keys of the other clients (from enrolment), to verify their advertisements. */
  peerIdentity: (clientId: string) => Uint8Array | undefined;
  /** The client's input for each sum. */
  input: InputProvider;
  /** Rounding of signed segments (default stochastic; tests use half-up). */
  rounding?: Rounding;
  /** Seeded randomness for stochastic rounding (default: crypto randomness). */
  rng?: Rng;
}

/** Key of a (sum, attempt) in maps. */
const sumKey = (phase: string, attempt: number): string => `${phase}#${attempt}`;

/** One sum attempt as this client saw it. */
interface SumState {
  phase: string;
  attempt: number;
  cohort: string[];
  /** U3 this client signed (active model). */
  signedU3?: string[];
  done: boolean;
}

/** Per-round secure-aggregation state of one client. Create one per round; call `dispose` at the end. */
export class SecAggClientRound {
  private last: Stage | 'start' = 'start';
  private closed = false;
  private keys: RoundKeyPairs | undefined;
  private setupReq: SetupRequest | undefined;
  private topo: Topology | undefined;
  private myIndex = 0;
  /** Self-mask seeds b by (phase, attempt). */
  private readonly seeds = new Map<string, Uint8Array>();
  /** Shares this client holds, by owner: the owner's s^SK share and self-mask shares by (phase, attempt). */
  private readonly held = new Map<string, { sk: Uint8Array | null; self: Map<string, Uint8Array> }>();
  /** Share discipline (§5 rule 1): which kind of share this client released for each owner this round. */
  private readonly released = new Map<string, 'self' | 'sk'>();
  /** Planned sums by phase, and the current attempt of each. */
  private readonly planned = new Map<string, PlannedSum>();
  private readonly attemptOf = new Map<string, number>();
  private current: SumState | undefined;
  /** Every (sum, attempt) this client has masked an input for: never again (same keys would leak). */
  private readonly answered = new Set<string>();
  /** (phase, attempt) of share boxes expected in the next inbox: the round's shareKeys, or a reshare. */
  private pendingInbox: { phase: string; attempt: number } | undefined;
  /** Senders of the boxes opened at checkBoxes; in the active model, whose clean box checks the first sum needs. */
  private boxSenders: string[] | undefined;

  constructor(
    private readonly opts: SecAggClientOptions,
    private readonly runId: Uint8Array,
    private readonly round: number,
  ) {}

  /** True once the client has left the round (protocol violation, or disposed). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Each stage's handler, typed by stage (messages.ts StageMessages). */
  private readonly handlers: { [S in Stage]: (req: StageRequest<S>) => StageReply<S> | Promise<StageReply<S>> } = {
    setup: (req) => this.setup(req),
    shareKeys: (req) => this.shareKeys(req),
    checkBoxes: (req) => this.checkBoxes(req),
    collectMasked: (req) => this.collectMasked(req),
    consistency: (req) => this.consistency(req),
    unmask: (req) => this.unmask(req),
    reshare: (req) => this.reshare(req),
  };

  /** Answers one request; throws a typed error (state unchanged) when the request must be refused. */
  async handle<S extends Stage>(stage: S, req: StageRequest<S>): Promise<StageReply<S>> {
    if (this.closed) throw new SecAggStageOrderError(`client ${this.opts.clientId} has left round ${this.round}`);
    this.checkEnvelope(stage, req.env);
    try {
      return await this.handlers[stage](req);
    } catch (err) {
      // A coordinator that breaks the protocol loses this client for the round (§4, "When a check fails").
      if (err instanceof SecAggProtocolError) this.dispose();
      throw err;
    }
  }

  /** Wipes the round's secrets and leaves the round. */
  dispose(): void {
    this.closed = true;
    if (this.keys !== undefined) wipe(this.keys.c.secretKey, this.keys.s.secretKey);
    for (const b of this.seeds.values()) wipe(b);
    for (const h of this.held.values()) {
      wipe(h.sk);
      for (const s of h.self.values()) wipe(s);
    }
    this.seeds.clear();
    this.held.clear();
  }

  // ------------------------------------------------------------------------------------------------------------
  // Checks shared by every stage

  private checkEnvelope(stage: Stage, env: Envelope): void {
    const allowed = NEXT_STAGES[this.last];
    if (!allowed.includes(stage)) {
      throw new SecAggStageOrderError(`stage '${stage}' cannot follow '${this.last}' (allowed: ${allowed.join(', ') || 'none'})`);
    }
    if (env.stage !== stage) throw new SecAggStageOrderError(`envelope stage '${env.stage}' does not match event '${stage}'`);
    if (env.round !== this.round) throw new SecAggStageOrderError(`request for round ${env.round}; this client is in round ${this.round}`);
    if (!bytesEqual(env.runId, this.runId)) throw new SecAggStageOrderError('request for another run');
    if (stage !== 'setup' && stage !== 'shareKeys') {
      if (env.sessionId === undefined || this.topo === undefined || !bytesEqual(env.sessionId, this.topo.sessionId)) {
        throw new SecAggStageOrderError('request carries another session id');
      }
    }
    if ((stage === 'consistency' || stage === 'unmask') && (this.current === undefined || this.current.done || env.phase !== this.current.phase || env.attempt !== this.current.attempt)) {
      throw new SecAggStageOrderError(`'${stage}' for sum '${env.phase}' attempt ${env.attempt} does not match the open sum`);
    }
    if (stage === 'unmask' && this.setupReq?.threatModel === 'active' && this.last !== 'consistency') {
      throw new SecAggStageOrderError('active model: unmask needs the consistency stage first');
    }
  }

  private get t(): number {
    return this.setupReq!.threshold;
  }

  private protocol(message: string, field?: string): never {
    throw new SecAggProtocolError(`client ${this.opts.clientId}: ${message}`, field !== undefined ? { field } : {});
  }

  private checkCohort(cohort: readonly string[], within: readonly string[], what: string): void {
    const set = new Set(cohort);
    const parent = new Set(within);
    if (set.size !== cohort.length) this.protocol(`${what} lists a client twice`, 'cohort');
    for (const id of cohort) if (!parent.has(id)) this.protocol(`${what} contains ${id}, who is not in the previous cohort`, 'cohort');
    if (!set.has(this.opts.clientId)) this.protocol(`${what} does not contain this client`, 'cohort');
    if (cohort.length < this.t) this.protocol(`${what} has ${cohort.length} members, below the threshold ${this.t}`, 'cohort');
  }

  // ------------------------------------------------------------------------------------------------------------
  // Stages

  private setup(req: SetupRequest): SetupReply {
    const n = req.cohort.length;
    if (!Number.isInteger(req.threshold) || req.threshold < 2 || req.threshold > n) {
      this.protocol(`threshold ${req.threshold} is outside [2, ${n}]`, 'threshold');
    }
    if (!new Set(req.cohort).has(this.opts.clientId)) this.protocol('the cohort does not contain this client', 'cohort');
    if (new Set(req.cohort).size !== n) this.protocol('the cohort lists a client twice', 'cohort');
    if (req.threatModel !== 'honest-but-curious' && req.threatModel !== 'active') this.protocol(`unknown threat model ${String(req.threatModel)}`, 'threatModel');
    const phases = new Set<string>();
    for (const s of req.plannedSums) {
      if (phases.has(s.phase) || s.phase === SHARE_KEYS_PHASE) this.protocol(`planned sum '${s.phase}' is empty or repeated`, 'plannedSums');
      phases.add(s.phase);
      validateSpec(s.spec);
    }
    this.keys = roundKeyPairs();
    this.setupReq = req;
    for (const s of req.plannedSums) {
      this.planned.set(s.phase, s);
      this.attemptOf.set(s.phase, 0);
    }
    const signature = signAdvertise(this.opts.identity.secretKey, {
      runId: this.runId,
      round: this.round,
      clientId: this.opts.clientId,
      cPk: this.keys.c.publicKey,
      sPk: this.keys.s.publicKey,
    });
    this.last = 'setup';
    return { cPk: this.keys.c.publicKey, sPk: this.keys.s.publicKey, signature };
  }

  private async shareKeys(req: ShareKeysRequest): Promise<ShareKeysReply> {
    const me = this.opts.clientId;
    const setup = this.setupReq!;
    const cohort = new Set(setup.cohort);
    const members = req.advertisements.map((a) => {
      if (!cohort.has(a.clientId)) this.protocol(`advertisement from ${a.clientId}, who is not in the cohort`, 'advertisements');
      const idPk = a.clientId === me ? this.opts.identity.publicKey : this.opts.peerIdentity(a.clientId);
      if (idPk === undefined) this.protocol(`no enrolled identity for ${a.clientId}`, 'advertisements');
      const ok = verifyAdvertise(idPk, { runId: this.runId, round: this.round, clientId: a.clientId, cPk: a.cPk, sPk: a.sPk }, a.signature);
      if (!ok) this.protocol(`advertisement of ${a.clientId} has a bad signature`, 'signature');
      return { clientId: a.clientId, cPk: a.cPk, sPk: a.sPk };
    });
    const mine = members.find((m) => m.clientId === me);
    if (mine === undefined || !bytesEqual(mine.cPk, this.keys!.c.publicKey) || !bytesEqual(mine.sPk, this.keys!.s.publicKey)) {
      this.protocol("this client's own keys are missing or altered in the advertisements", 'advertisements');
    }
    if (members.length < this.t) this.protocol(`U1 has ${members.length} members, below the threshold ${this.t}`, 'advertisements');
    let topo: Topology;
    try {
      topo = buildTopology(this.runId, this.round, members, setup.graph);
    } catch (err) {
      this.protocol(`invalid advertisements: ${messageOf(err)}`, 'advertisements');
    }
    if (req.env.sessionId !== undefined && !bytesEqual(req.env.sessionId, topo.sessionId)) {
      this.protocol('the session id does not recompute from the advertisements', 'sessionId');
    }
    // Every peer key must give a non-zero shared secret (agree throws on low-order keys).
    const holders = neighbourIds(topo, me);
    if (holders.length < this.t) this.protocol(`only ${holders.length} neighbours, below the threshold ${this.t}`, 'graph');
    const sharedC = new Map<string, Uint8Array>();
    for (const id of holders) {
      if (id === me) continue;
      sharedC.set(id, agree(this.keys!.c.secretKey, topo.keys.get(id)!.cPk));
      wipe(agree(this.keys!.s.secretKey, topo.keys.get(id)!.sPk));
    }
    this.topo = topo;
    this.myIndex = topo.index.get(me)!;

    // Secrets of the round: s^SK once, and one self-mask seed per planned sum (attempt 0).
    const skShares = await splitSecret(this.keys!.s.secretKey, holders.length, this.t);
    const selfShares = new Map<string, Uint8Array[]>();
    const commitments: SeedCommitment[] = [];
    for (const s of setup.plannedSums) {
      const b = randomSeed();
      this.seeds.set(sumKey(s.phase, 0), b);
      selfShares.set(s.phase, await splitSecret(b, holders.length, this.t));
      commitments.push({ phase: s.phase, attempt: 0, hash: commitSeed(b) });
    }
    const boxes: ShareBox[] = [];
    holders.forEach((id, h) => {
      const payload = {
        sessionId: topo.sessionId,
        sender: this.myIndex,
        recipient: topo.index.get(id)!,
        skShare: skShares[h]!,
        selfShares: setup.plannedSums.map((s) => ({ phase: s.phase, attempt: 0, share: selfShares.get(s.phase)![h]! })),
      };
      if (id === me) {
        this.hold(me, payload.skShare, payload.selfShares);
        return;
      }
      const key = shareBoxKey(sharedC.get(id)!, topo.sessionId, SHARE_KEYS_PHASE, 0, this.myIndex, payload.recipient);
      const sealed = sealShareBox(key, encodeSharePayload(payload));
      boxes.push({ peer: id, nonce: sealed.nonce, box: sealed.box });
      wipe(key);
    });
    for (const k of sharedC.values()) wipe(k);
    this.pendingInbox = { phase: SHARE_KEYS_PHASE, attempt: 0 };
    this.last = 'shareKeys';
    return { boxes, commitments, commitSignature: signCommit(this.opts.identity.secretKey, topo.sessionId, commitments) };
  }

  /**
   * Opens the share boxes of the key agreement (§6.1). All open: a signed clean check. Some do not: the senders,
   * signed, with this client's round secret key c as the proof; the client then leaves the key agreement (its
   * secrets wiped), since the coordinator can now open its inbox and nothing may be masked under it.
   */
  private checkBoxes(req: CheckBoxesRequest): CheckBoxesReply {
    const topo = this.topo!;
    const me = this.opts.clientId;
    if (this.pendingInbox === undefined || this.pendingInbox.phase !== SHARE_KEYS_PHASE) this.protocol('no share boxes are pending', 'inbox');
    const expected = new Set(neighbourIds(topo, me).filter((id) => id !== me));
    const seen = new Set<string>();
    const failed: string[] = [];
    const opened: { sender: string; sk: Uint8Array | null; self: { phase: string; attempt: number; share: Uint8Array }[] }[] = [];
    for (const box of req.inbox) {
      if (seen.has(box.peer)) this.protocol(`two boxes from ${box.peer}`, 'inbox');
      seen.add(box.peer);
      if (!expected.has(box.peer)) this.protocol(`a box from ${box.peer}, who is not a neighbour`, 'inbox');
      const payload = openBoxFrom(topo, this.keys!.c.secretKey, box.peer, me, box, { phase: SHARE_KEYS_PHASE, attempt: 0, planned: new Set(this.planned.keys()) });
      if (payload === null) failed.push(box.peer);
      else opened.push({ sender: box.peer, sk: payload.skShare, self: payload.selfShares });
    }
    failed.sort();
    const signature = signBoxCheck(this.opts.identity.secretKey, topo.sessionId, failed);
    if (failed.length > 0) {
      const cSk = Uint8Array.from(this.keys!.c.secretKey);
      for (const o of opened) wipe(o.sk, ...o.self.map((x) => x.share));
      this.dispose();
      return { failed, cSk, signature };
    }
    for (const o of opened) this.hold(o.sender, o.sk, o.self);
    this.boxSenders = [...seen].sort();
    this.pendingInbox = undefined;
    this.last = 'checkBoxes';
    return { failed, signature };
  }

  private hold(owner: string, sk: Uint8Array | null, self: readonly { phase: string; attempt: number; share: Uint8Array }[]): void {
    const h = this.held.get(owner) ?? { sk: null, self: new Map<string, Uint8Array>() };
    if (sk !== null) h.sk = sk;
    for (const s of self) h.self.set(sumKey(s.phase, s.attempt), s.share);
    this.held.set(owner, h);
  }

  private async collectMasked(req: CollectMaskedRequest): Promise<CollectMaskedReply> {
    const topo = this.topo!;
    const { phase, attempt } = req.env;
    const plan = this.planned.get(phase);
    if (plan === undefined) this.protocol(`sum '${phase}' was not planned at setup`, 'phase');
    if (attempt !== this.attemptOf.get(phase)) {
      throw new SecAggStageOrderError(`sum '${phase}' attempt ${attempt} is not the current attempt ${this.attemptOf.get(phase)}`);
    }
    if (this.current !== undefined && !this.current.done && !(this.current.phase === phase && this.last === 'reshare')) {
      throw new SecAggStageOrderError(`sum '${this.current.phase}' attempt ${this.current.attempt} is still open`);
    }
    if (this.answered.has(sumKey(phase, attempt))) {
      throw new SecAggStageOrderError(`sum '${phase}' attempt ${attempt} was already answered (replay)`);
    }
    const previous = this.current?.cohort ?? topo.ids;
    this.checkCohort(req.cohort, previous, `the cohort of sum '${phase}'`);
    if (JSON.stringify(req.spec) !== JSON.stringify(plan.spec)) this.protocol(`the vector spec of sum '${phase}' differs from the planned one`, 'spec');
    checkHeadroom(req.spec, req.cohort.length);
    const seed = this.seeds.get(sumKey(phase, attempt));
    if (seed === undefined) this.protocol(`no self-mask seed for sum '${phase}' attempt ${attempt}`, 'attempt');

    // Active model, the round's first sum: every neighbour that sent this client a box must have signed a clean
    // box check. A complaint reveals the accuser's inbox (one share of each of its neighbours' secrets), so a key
    // agreement with one is never used; a coordinator that goes on regardless loses this client.
    if (this.boxSenders !== undefined && this.setupReq!.threatModel === 'active') {
      const clean = new Set<string>();
      for (const c of req.boxChecks ?? []) {
        const pk = this.opts.peerIdentity(c.clientId);
        if (pk !== undefined && c.signature instanceof Uint8Array && verifyBoxCheck(pk, topo.sessionId, [], c.signature)) clean.add(c.clientId);
      }
      const missing = this.boxSenders.filter((id) => !clean.has(id));
      if (missing.length > 0) this.protocol(`no signed clean box check from ${missing.join(', ')}: the key agreement may have been revealed`, 'boxChecks');
    }
    // The inbox comes exactly when a reshare's boxes are pending, and only then.
    const failedBoxes: string[] = [];
    if (this.pendingInbox !== undefined) {
      if (req.inbox === undefined) this.protocol('the share boxes were not delivered', 'inbox');
      const seen = new Set<string>();
      for (const box of req.inbox) {
        if (seen.has(box.peer)) this.protocol(`two boxes from ${box.peer}`, 'inbox');
        seen.add(box.peer);
        if (!topo.index.has(box.peer)) this.protocol(`a box from ${box.peer}, who is not a member`, 'inbox');
        // A box that does not open, or names the wrong session, sender or recipient, is discarded and its sender
        // reported; after a release a complaint cannot be proved (§6.1), so the sender's shares are only not used.
        const payload = openBoxFrom(topo, this.keys!.c.secretKey, box.peer, this.opts.clientId, box, { ...this.pendingInbox, planned: new Set(this.planned.keys()) });
        if (payload === null) failedBoxes.push(box.peer);
        else this.hold(box.peer, payload.skShare, payload.selfShares);
      }
    } else if (req.inbox !== undefined) {
      this.protocol('share boxes delivered twice', 'inbox');
    }

    const values = await this.opts.input(phase, req.spec, req.payload);
    const q = encodeVector(req.spec, values, { rounding: this.opts.rounding ?? 'stochastic', ...(this.opts.rng !== undefined ? { rng: this.opts.rng } : {}) }).vector;
    const selfKey = selfMaskKey(seed, topo.sessionId, phase, attempt, this.myIndex);
    const inSum = new Set(req.cohort);
    const pairKeys: PairKey[] = [];
    for (const id of neighbourIds(topo, this.opts.clientId)) {
      if (id === this.opts.clientId || !inSum.has(id)) continue;
      const v = topo.index.get(id)!;
      const shared = agree(this.keys!.s.secretKey, topo.keys.get(id)!.sPk);
      pairKeys.push({ peer: v, key: pairMaskKey(shared, topo.sessionId, phase, attempt, this.myIndex, v) });
      wipe(shared);
    }
    const y = maskInput(q, this.myIndex, selfKey, pairKeys);
    wipe(selfKey, ...pairKeys.map((p) => p.key));
    q.fill(0);
    if (y.length !== vectorLength(req.spec)) this.protocol('internal: masked vector has the wrong length', 'spec');

    this.pendingInbox = undefined;
    this.boxSenders = undefined;
    this.answered.add(sumKey(phase, attempt));
    this.current = { phase, attempt, cohort: [...req.cohort], done: false };
    this.last = 'collectMasked';
    return { y, failedBoxes };
  }

  private consistency(req: ConsistencyRequest): ConsistencyReply {
    const cur = this.current!;
    this.checkCohort(req.u3, cur.cohort, 'U3');
    const signature = signConsistency(this.opts.identity.secretKey, this.topo!.sessionId, cur.phase, cur.attempt, req.u3);
    cur.signedU3 = [...req.u3].sort();
    this.last = 'consistency';
    return { signature };
  }

  private unmask(req: UnmaskRequest): UnmaskReply {
    const cur = this.current!;
    const me = this.opts.clientId;
    const alive = new Set(req.alive);
    const dropped = new Set(req.dropped);
    if (alive.size !== req.alive.length || dropped.size !== req.dropped.length) this.protocol('alive or dropped lists a client twice', 'alive');
    for (const id of alive) if (dropped.has(id)) this.protocol(`${id} is both alive and dropped`, 'dropped');
    const cohort = new Set(cur.cohort);
    for (const id of [...alive, ...dropped]) if (!cohort.has(id)) this.protocol(`${id} is not in the sum's cohort`, 'alive');
    if (alive.size + dropped.size !== cohort.size) this.protocol("alive ∪ dropped is not the sum's cohort", 'dropped');
    if (alive.size < this.t) this.protocol(`only ${alive.size} alive, below the threshold ${this.t}`, 'alive');
    if (this.setupReq!.threatModel === 'active') {
      const u3 = [...alive].sort();
      if (JSON.stringify(u3) !== JSON.stringify(cur.signedU3)) this.protocol('alive differs from the U3 this client signed', 'alive');
      const valid = new Set<string>();
      for (const s of req.signatures ?? []) {
        const pk = s.clientId === me ? this.opts.identity.publicKey : this.opts.peerIdentity(s.clientId);
        if (pk !== undefined && alive.has(s.clientId) && verifyConsistency(pk, this.topo!.sessionId, cur.phase, cur.attempt, u3, s.signature)) valid.add(s.clientId);
      }
      if (valid.size < this.t) this.protocol(`only ${valid.size} valid consistency signatures on U3, below the threshold ${this.t}`, 'signatures');
    }
    // Share discipline (§5 rule 1), checked for every peer before anything is released.
    for (const id of alive) if (this.released.get(id) === 'sk') this.protocol(`asked for a self-mask share of ${id}, whose mask-key share was released`, 'alive');
    for (const id of dropped) if (this.released.get(id) === 'self') this.protocol(`asked for the mask-key share of ${id}, whose self-mask share was released`, 'dropped');
    const selfShares: UnmaskReply['selfShares'] = [];
    const skShares: UnmaskReply['skShares'] = [];
    const key = sumKey(cur.phase, cur.attempt);
    for (const id of alive) {
      const share = this.held.get(id)?.self.get(key);
      if (share === undefined) continue;
      selfShares.push({ clientId: id, share });
      this.released.set(id, 'self');
    }
    for (const id of dropped) {
      const share = this.held.get(id)?.sk;
      if (share === undefined || share === null) continue;
      skShares.push({ clientId: id, share });
      this.released.set(id, 'sk');
    }
    cur.done = true;
    this.last = 'unmask';
    return { selfShares, skShares };
  }

  private async reshare(req: ReshareRequest): Promise<ShareKeysReply> {
    const cur = this.current!;
    const topo = this.topo!;
    const { phase, attempt } = req.env;
    if (cur === undefined || cur.done || phase !== cur.phase || attempt !== cur.attempt + 1) {
      throw new SecAggStageOrderError(`reshare of '${phase}' attempt ${attempt} does not follow the open attempt`);
    }
    this.checkCohort(req.cohort, cur.cohort, 'the reshare cohort');
    const holders = neighbourIds(topo, this.opts.clientId).filter((id) => req.cohort.includes(id));
    if (holders.length < this.t) this.protocol(`only ${holders.length} neighbours in the new cohort, below the threshold ${this.t}`, 'cohort');
    const b = randomSeed();
    const shares = await splitSecret(b, holders.length, this.t);
    const boxes: ShareBox[] = [];
    holders.forEach((id, h) => {
      const recipient = topo.index.get(id)!;
      const payload = { sessionId: topo.sessionId, sender: this.myIndex, recipient, skShare: null, selfShares: [{ phase, attempt, share: shares[h]! }] };
      if (id === this.opts.clientId) {
        this.hold(id, null, payload.selfShares);
        return;
      }
      const shared = agree(this.keys!.c.secretKey, topo.keys.get(id)!.cPk);
      const key = shareBoxKey(shared, topo.sessionId, phase, attempt, this.myIndex, recipient);
      const sealed = sealShareBox(key, encodeSharePayload(payload));
      wipe(shared, key);
      boxes.push({ peer: id, nonce: sealed.nonce, box: sealed.box });
    });
    this.seeds.set(sumKey(phase, attempt), b);
    this.attemptOf.set(phase, attempt);
    // The abandoned attempt is closed without unmasking; its self-mask is never revealed.
    cur.done = true;
    this.current = { phase, attempt, cohort: [...req.cohort], done: false };
    this.pendingInbox = { phase, attempt };
    this.last = 'reshare';
    const commitments: SeedCommitment[] = [{ phase, attempt, hash: commitSeed(b) }];
    return { boxes, commitments, commitSignature: signCommit(this.opts.identity.secretKey, topo.sessionId, commitments) };
  }
}

/** Types re-exported for the transport layer. */
export type { ThreatModel, VectorSpec };
