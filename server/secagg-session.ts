/**
 * The coordinator side of secure aggregation for one round: runs the stages over a transport, keeps the
 * survivor sets, reconstructs dropped clients' masks from Shamir shares and returns each sum over its survivors
 * (docs/spec/secure-aggregation.md §4–§6), or a typed abort.
 *
 * Bonawitz et al., CCS 2017 (arXiv 1611.04482), §4, with the multi-sum rules of §5 of the spec: the round's
 * keys are agreed once (`start`), then each `sum` is collectMasked → [consistency] → unmask over the clients
 * that answered the previous unmask. Rule 2: a client's mask key s^SK is reconstructed only if none of its
 * self masks was requested this round, i.e. only for drops in the round's first sum; a drop in a later sum
 * abandons the attempt and reshares fresh self-mask seeds over the clients that delivered (rule 3), at most
 * `maxRestarts` times.
 *
 * Between shareKeys and the first masked input, `checkBoxes` has every client open its share boxes; complaints
 * are proved with the accuser's round box key and judged here (shared/secagg/disputes.ts, spec §6.1).
 *
 * The session never holds any client's input in the clear: it sums masked vectors and removes only aggregate
 * masks. A reply that fails a check is a failure record that shrinks the survivor set, never an exception; the
 * session throws only `SecAggAbortedError` (a survivor set fell below t), `SecAggDisputeError` (from `start`:
 * share-box complaints were judged; the caller starts again with fresh keys without the guilty it names) or
 * `SecAggConfigError`.
 */
import { agree, isLowOrderPublicKey, publicKeyMatches, wipe } from '../shared/secagg/keys.js';
import { sha256, type MemberKeys } from '../shared/secagg/session-id.js';
import { pairMaskKey, selfMaskKey } from '../shared/secagg/kdf.js';
import { maskSign } from '../shared/secagg/prg.js';
import { SHARE_KEYS_PHASE } from '../shared/secagg/labels.js';
import { verifyAdvertise, verifyBoxCheck, verifyCommit, verifyConsistency } from '../shared/secagg/signed-messages.js';
import { bytesEqual } from '../shared/secagg/encoding.js';
import { SecAggAbortedError, SecAggConfigError, SecAggDisputeError, SecAggReconstructionError } from '../shared/secagg/errors.js';
import { judgeComplaints, type Verdict } from '../shared/secagg/disputes.js';
import { neighboursBelowThreshold, resolveThreshold } from '../shared/secagg/graph.js';
import { sizeSecAggPlus } from '../shared/secagg/sizing.js';
import type { BoxCheck, Commitment, Envelope, GraphSpec, PlannedSum, ShareBox, ShareKeysReply, Stage, StageReply, StageRequest, ThreatModel, UnmaskReply } from '../shared/secagg/messages.js';
import { addInto, checkHeadroom, decodeSum, sumOutOfRange, vectorLength, type VectorSpec } from '../shared/secagg/quantize.js';
import { combineVerified, MAX_SHARES } from '../shared/secagg/shamir.js';
import { buildTopology, neighbourIds, type Topology } from '../shared/secagg/topology.js';
import { MaskExpander, type MaskJob } from './mask-expansion.js';
import type { StageSender } from '../shared/engine/transport.js';

/** Sends one stage request to one client; rejects on timeout, disconnect or a typed client error. */
export type { StageSender };

/** Options of a round's secure-aggregation session. */
export interface SecureSumOptions {
  runId: Uint8Array;
  round: number;
  /** The selected cohort (client ids). */
  cohort: string[];
  /** Enrolled identity public key of a client, or undefined if unknown. */
  identity: (clientId: string) => Uint8Array | undefined;
  /** Integer t, or a fraction of the cohort; default ⌊n/2⌋ + 1 (honest-but-curious) or ⌊2n/3⌋ + 1 (active). */
  threshold?: number;
  threatModel?: ThreatModel;
  /**
   * The masking graph: complete (default), SecAgg+ Harary of a given degree, or `auto`: the Harary graph with
   * (k, t) sized by shared/secagg/sizing.ts for the declared `dropout` and `corrupted` rates (default 5 % each):
   * abort ≤ 2^−20, privacy breach ≤ 2^−40, semi-honest for `honest-but-curious`, semi-malicious for `active`
   * (secure-aggregation.md §8), whenever its k + 1 is below n, else the complete graph. Above 255 clients only a
   * Harary graph works, and rates no graph can carry are refused.
   */
  graph?: GraphSpec | { kind: 'auto'; dropout?: number; corrupted?: number };
  /** The round's sums, in order, with their vector layouts. */
  plannedSums: PlannedSum[];
  /** Restarts allowed per sum after a later-sum drop (default 1). */
  maxRestarts?: number;
  /** Every reply the coordinator receives, for audits and tests (stage, client, reply). */
  onReply?: (stage: Stage, clientId: string, reply: unknown) => void;
  /**
   * Expands the masks the coordinator removes, on worker threads when a sum's batch is large (mask-expansion.ts).
   * Default: on the calling thread. The caller owns it (one per coordinator, closed with it).
   */
  expander?: MaskExpander;
}

/** One secure sum's outcome. */
export interface SecureSumResult {
  phase: string;
  /** The decoded sum over `survivors`, one array per segment (spec order). */
  sums: Float64Array[];
  /** The clients whose inputs are in the sum (U3). */
  survivors: string[];
  /** Clients of the sum's cohort whose inputs are not (their masks were removed). */
  dropped: string[];
  /** Attempts used (1 = no restart). */
  attempts: number;
}

/** The default expander: every mask on the calling thread. */
const IN_THREAD = new MaskExpander({ threads: 0 });

/** Per-sum key of commitments. */
const sumKey = (phase: string, attempt: number): string => `${phase}#${attempt}`;

type Outcome<R> = { ok: true; reply: R } | { ok: false; reason: string };

/** A round's secure-aggregation session on the coordinator. */
export class SecureSumSession {
  /** The threshold t. */
  readonly threshold: number;
  private readonly threatModel: ThreatModel;
  private readonly graph: GraphSpec;
  private readonly maxRestarts: number;
  private readonly expander: MaskExpander;
  private topo: Topology | undefined;
  /** Clients eligible for the next sum. */
  private alive: string[] = [];
  /** Inbox boxes waiting to be delivered with the next collectMasked, by recipient. */
  private inbox = new Map<string, ShareBox[]>();
  /** Verified self-mask seed commitments, by client then (phase, attempt). */
  private readonly commitments = new Map<string, Map<string, Uint8Array>>();
  /** Clients whose self mask was requested at some unmask this round (rule 2: their s^SK stays secret). */
  private readonly selfRevealed = new Set<string>();
  /** Holder → senders whose boxes it could not open (they do not count towards those senders' shares). */
  private readonly badBoxes = new Map<string, Set<string>>();
  private readonly doneSums = new Set<string>();
  /** Active model: the signed clean box checks, forwarded with the round's first sum (then cleared). */
  private boxChecks: BoxCheck[] | undefined;
  private started = false;

  constructor(
    private readonly opts: SecureSumOptions,
    private readonly send: StageSender,
  ) {
    const n = opts.cohort.length;
    if (n < 3) throw new SecAggConfigError('cohort', `secure aggregation needs at least 3 clients, got ${n}`);
    if (new Set(opts.cohort).size !== n) throw new SecAggConfigError('cohort', 'the cohort lists a client twice');
    this.threatModel = opts.threatModel ?? 'honest-but-curious';
    const { graph, tableThreshold } = resolveGraph(opts.graph ?? { kind: 'complete' }, n, this.threatModel);
    this.graph = graph;
    if (graph.kind === 'complete' && n > MAX_SHARES) {
      throw new SecAggConfigError('graph', `a cohort of ${n} needs the SecAgg+ graph (Shamir allows at most ${MAX_SHARES} shares); use graph 'auto' or 'harary'`);
    }
    const holders = graph.kind === 'complete' ? n : graph.degree + 1;
    this.threshold = resolveThreshold(opts.threshold ?? tableThreshold, holders, this.threatModel);
    this.maxRestarts = opts.maxRestarts ?? 1;
    this.expander = opts.expander ?? IN_THREAD;
    if (!Number.isInteger(this.maxRestarts) || this.maxRestarts < 0) throw new SecAggConfigError('maxRestarts', `maxRestarts must be an integer ≥ 0, got ${this.maxRestarts}`);
    for (const s of opts.plannedSums) checkHeadroom(s.spec, n);
  }

  /** The session id (after `start`). */
  get sessionId(): Uint8Array | undefined {
    return this.topo?.sessionId;
  }

  /** Clients eligible for the next sum. */
  get eligible(): readonly string[] {
    return this.alive;
  }

  private env(stage: Stage, phase: string, attempt: number): Envelope {
    return { runId: this.opts.runId, round: this.opts.round, stage, phase, attempt, ...(this.topo !== undefined ? { sessionId: this.topo.sessionId } : {}) };
  }

  private abort(stage: string, phase: string, attempt: number, got: number): never {
    throw new SecAggAbortedError({ stage, phase, attempt, needed: this.threshold, got });
  }

  /** Sends a stage to each target with its own request; collects replies and failures (never throws). */
  private async broadcast<S extends Stage>(stage: S, targets: readonly string[], build: (id: string) => StageRequest<S>): Promise<Map<string, Outcome<StageReply<S>>>> {
    const settled = await Promise.allSettled(targets.map((id) => this.send(stage, id, build(id))));
    const out = new Map<string, Outcome<StageReply<S>>>();
    settled.forEach((s, i) => {
      const id = targets[i]!;
      if (s.status === 'fulfilled') {
        this.opts.onReply?.(stage, id, s.value);
        out.set(id, { ok: true, reply: s.value });
      } else {
        out.set(id, { ok: false, reason: s.reason instanceof Error ? s.reason.message : String(s.reason) });
      }
    });
    return out;
  }

  /** Key agreement for the round: setup (U1) and shareKeys (U2). Throws SecAggAbortedError below t. */
  async start(): Promise<void> {
    if (this.started) throw new SecAggConfigError('start', 'the session was already started');
    this.started = true;
    const { cohort } = this.opts;
    const setupReplies = await this.broadcast('setup', cohort, () => ({
      env: this.env('setup', '', 0),
      cohort,
      threshold: this.threshold,
      threatModel: this.threatModel,
      graph: this.graph,
      plannedSums: this.opts.plannedSums,
      identities: cohort.flatMap((c) => {
        const pk = this.opts.identity(c);
        return pk === undefined ? [] : [{ clientId: c, identityPk: pk }];
      }),
    }));
    const ads: { clientId: string; cPk: Uint8Array; sPk: Uint8Array; signature: Uint8Array }[] = [];
    for (const [id, r] of setupReplies) {
      if (!r.ok) continue;
      const rep = r.reply;
      const idPk = this.opts.identity(id);
      if (idPk === undefined || !(rep.cPk instanceof Uint8Array) || !(rep.sPk instanceof Uint8Array) || !(rep.signature instanceof Uint8Array)) continue;
      if (rep.cPk.length !== 32 || rep.sPk.length !== 32 || isLowOrderPublicKey(rep.cPk) || isLowOrderPublicKey(rep.sPk)) continue;
      if (!verifyAdvertise(idPk, { runId: this.opts.runId, round: this.opts.round, clientId: id, cPk: rep.cPk, sPk: rep.sPk }, rep.signature)) continue;
      ads.push({ clientId: id, cPk: rep.cPk, sPk: rep.sPk, signature: rep.signature });
    }
    // Duplicate public keys: drop every client that shares a key with another (no way to tell who copied).
    const seen = new Map<string, number>();
    for (const a of ads) for (const k of [a.cPk, a.sPk]) seen.set(Buffer.from(k).toString('hex'), (seen.get(Buffer.from(k).toString('hex')) ?? 0) + 1);
    const u1 = ads.filter((a) => [a.cPk, a.sPk].every((k) => seen.get(Buffer.from(k).toString('hex')) === 1) && !bytesEqual(a.cPk, a.sPk));
    if (u1.length < this.threshold) this.abort('setup', '', 0, u1.length);
    // The Harary graph of degree k needs more than k members; with fewer survivors of setup it cannot be built.
    if (this.graph.kind === 'harary' && u1.length <= this.graph.degree) {
      throw new SecAggAbortedError({ stage: 'setup', phase: '', attempt: 0, needed: this.graph.degree + 1, got: u1.length });
    }
    const members: MemberKeys[] = u1.map((a) => ({ clientId: a.clientId, cPk: a.cPk, sPk: a.sPk }));
    this.topo = buildTopology(this.opts.runId, this.opts.round, members, this.graph);

    const u1Ids = u1.map((a) => a.clientId);
    const shareReplies = await this.broadcast('shareKeys', u1Ids, () => ({ env: this.env('shareKeys', '', 0), advertisements: u1 }));
    const u2: string[] = [];
    const boxesBySender = new Map<string, ShareBox[]>();
    for (const [id, r] of shareReplies) {
      if (
        !r.ok ||
        !this.acceptCommitments(
          id,
          r.reply,
          this.opts.plannedSums.map((s) => ({ phase: s.phase, attempt: 0 })),
        )
      )
        continue;
      const expected = new Set(neighbourIds(this.topo, id).filter((x) => x !== id));
      const boxes = Array.isArray(r.reply.boxes) ? r.reply.boxes.filter((b) => expected.has(b.peer)) : [];
      if (boxes.length !== expected.size) continue;
      u2.push(id);
      boxesBySender.set(id, boxes);
    }
    if (u2.length < this.threshold) this.abort('shareKeys', '', 0, u2.length);
    const inbox = routeBoxes(boxesBySender, new Set(u2));
    u2.sort();

    // Every client opens its boxes before anything is masked; a complaint comes with its proof and is judged here.
    const checks = await this.broadcast('checkBoxes', u2, (id) => ({ env: this.env('checkBoxes', '', 0), inbox: inbox.get(id) ?? [] }));
    const verdicts: Verdict[] = [];
    const clean: BoxCheck[] = [];
    const silent: string[] = [];
    const expect = { phase: SHARE_KEYS_PHASE, attempt: 0, planned: new Set(this.opts.plannedSums.map((p) => p.phase)) };
    for (const id of u2) {
      const r = checks.get(id)!;
      const idPk = this.opts.identity(id);
      if (!r.ok || idPk === undefined || !Array.isArray(r.reply.failed) || !(r.reply.signature instanceof Uint8Array)) {
        silent.push(id);
        continue;
      }
      const failed = r.reply.failed.map(String);
      if (!verifyBoxCheck(idPk, this.topo.sessionId, failed, r.reply.signature)) {
        silent.push(id);
        continue;
      }
      if (failed.length === 0) {
        clean.push({ clientId: id, signature: r.reply.signature });
        continue;
      }
      const delivered = new Map((inbox.get(id) ?? []).map((b) => [b.peer, b]));
      verdicts.push(...judgeComplaints(this.topo, id, failed, r.reply.cSk instanceof Uint8Array ? r.reply.cSk : undefined, delivered, expect));
    }
    // Active model: a client masks only with every box sender's signed clean check in hand, so a silent member
    // (who may have complained unseen) also means new keys; it is left out like a dropout, not blamed.
    if (this.threatModel === 'active' && verdicts.length === 0 && silent.length > 0) {
      throw new SecAggDisputeError(
        silent,
        silent.map((id) => ({ accuser: id, accused: '', guilty: id, reason: 'no-box-check' })),
      );
    }
    if (verdicts.length > 0) throw new SecAggDisputeError([...new Set(verdicts.map((v) => v.guilty))].sort(), verdicts);
    const u2c = clean.map((c) => c.clientId);
    if (u2c.length < this.threshold) this.abort('checkBoxes', '', 0, u2c.length);
    if (this.threatModel === 'active') this.boxChecks = clean;
    this.alive = u2c;
  }

  /** Verifies and records a client's signed self-mask seed commitments for the expected (phase, attempt)s. */
  private acceptCommitments(id: string, reply: ShareKeysReply, expected: { phase: string; attempt: number }[]): boolean {
    const idPk = this.opts.identity(id);
    if (idPk === undefined || !Array.isArray(reply.commitments) || !(reply.commitSignature instanceof Uint8Array)) return false;
    const c: Commitment[] = reply.commitments;
    if (c.length !== expected.length || c.some((x, i) => x.phase !== expected[i]!.phase || x.attempt !== expected[i]!.attempt || !(x.hash instanceof Uint8Array) || x.hash.length !== 32)) return false;
    if (!verifyCommit(idPk, this.topo!.sessionId, c, reply.commitSignature)) return false;
    const mine = this.commitments.get(id) ?? new Map<string, Uint8Array>();
    for (const x of c) mine.set(sumKey(x.phase, x.attempt), x.hash);
    this.commitments.set(id, mine);
    return true;
  }

  /**
   * One secure sum over the eligible clients. `payload(id)` is the sum-specific data sent to each client with
   * collectMasked (e.g. a Decent_BVA probe). Throws SecAggAbortedError when a survivor set falls below t.
   */
  async sum(phase: string, payload?: (clientId: string) => unknown): Promise<SecureSumResult> {
    const topo = this.topo;
    if (topo === undefined) throw new SecAggConfigError('sum', 'start() must complete before a sum');
    const plan = this.opts.plannedSums.find((s) => s.phase === phase);
    if (plan === undefined) throw new SecAggConfigError('phase', `sum '${phase}' was not planned at setup`);
    if (this.doneSums.has(phase)) throw new SecAggConfigError('phase', `sum '${phase}' was already computed this round`);
    const spec = plan.spec;
    const len = vectorLength(spec);
    let attempt = 0;
    let cohort = [...this.alive];

    for (;;) {
      if (cohort.length < this.threshold) this.abort('collectMasked', phase, attempt, cohort.length);
      const masked = await this.broadcast('collectMasked', cohort, (id) => ({
        env: this.env('collectMasked', phase, attempt),
        cohort,
        ...(this.inbox.has(id) ? { inbox: this.inbox.get(id) } : {}),
        ...(this.boxChecks !== undefined ? { boxChecks: this.boxChecks } : {}),
        spec,
        ...(payload !== undefined ? { payload: payload(id) } : {}),
      }));
      this.boxChecks = undefined;
      // A complaint counts only about a sender whose box this request delivered to the complainer: a client cannot
      // accuse peers it got nothing from (e.g. in a later sum, which delivers no boxes).
      const delivered = new Map([...this.inbox].map(([id, boxes]) => [id, new Set(boxes.map((b) => b.peer))]));
      this.inbox.clear();
      const u3: string[] = [];
      const ys = new Map<string, Uint32Array>();
      for (const [id, r] of masked) {
        if (!r.ok || !(r.reply.y instanceof Uint32Array) || r.reply.y.length !== len || !Array.isArray(r.reply.failedBoxes)) continue;
        u3.push(id);
        ys.set(id, r.reply.y);
        for (const sender of r.reply.failedBoxes) {
          if (delivered.get(id)?.has(String(sender)) !== true) continue;
          const set = this.badBoxes.get(id) ?? new Set<string>();
          set.add(String(sender));
          this.badBoxes.set(id, set);
        }
      }
      u3.sort();
      const dropped = cohort.filter((id) => !ys.has(id));
      // Rule 2/3: a client whose self mask was already requested cannot have its mask key reconstructed, so its
      // drop makes this attempt unrecoverable: abandon it and reshare among those who delivered.
      if (dropped.some((id) => this.selfRevealed.has(id))) {
        if (attempt >= this.maxRestarts) this.abort('collectMasked', phase, attempt, u3.length);
        if (u3.length < this.threshold) this.abort('collectMasked', phase, attempt, u3.length);
        // Every member of the new cohort must keep ≥ t neighbours in it to hold its fresh self-mask shares.
        const inNew = new Set(u3);
        for (const id of u3) {
          const holders = neighbourIds(topo, id).filter((x) => inNew.has(x)).length;
          if (holders < this.threshold) this.abort('reshare', phase, attempt + 1, holders);
        }
        attempt++;
        const newCohort = u3;
        const reshare = await this.broadcast('reshare', newCohort, () => ({ env: this.env('reshare', phase, attempt), cohort: newCohort }));
        const boxesBySender = new Map<string, ShareBox[]>();
        const responders: string[] = [];
        for (const [id, r] of reshare) {
          if (!r.ok || !this.acceptCommitments(id, r.reply, [{ phase, attempt }])) continue;
          const expected = new Set(neighbourIds(topo, id).filter((x) => x !== id && newCohort.includes(x)));
          const boxes = Array.isArray(r.reply.boxes) ? r.reply.boxes.filter((b) => expected.has(b.peer)) : [];
          if (boxes.length !== expected.size) continue;
          responders.push(id);
          boxesBySender.set(id, boxes);
        }
        cohort = responders.sort();
        this.inbox = routeBoxes(boxesBySender, new Set(cohort));
        // Every member of the new cohort must get an inbox (possibly empty) to open the new attempt.
        for (const id of cohort) if (!this.inbox.has(id)) this.inbox.set(id, []);
        continue;
      }
      if (u3.length < this.threshold) this.abort('collectMasked', phase, attempt, u3.length);
      const aliveIdx = new Set(u3.map((id) => topo.index.get(id)!));
      const starved = neighboursBelowThreshold(topo.neighbours, aliveIdx, this.threshold);
      if (starved.length > 0) this.abort('collectMasked', phase, attempt, u3.length);
      // Each dropped client's mask key must be recoverable from ≥ t surviving neighbours; check before anyone
      // releases a share, rather than failing at reconstruction.
      for (const v of dropped) {
        const holders = neighbourIds(topo, v).filter((x) => aliveIdx.has(topo.index.get(x)!)).length;
        if (holders < this.threshold) this.abort('collectMasked', phase, attempt, holders);
      }

      let signatures: { clientId: string; signature: Uint8Array }[] | undefined;
      if (this.threatModel === 'active') {
        const cons = await this.broadcast('consistency', u3, () => ({ env: this.env('consistency', phase, attempt), u3 }));
        signatures = [];
        for (const [id, r] of cons) {
          const pk = this.opts.identity(id);
          if (r.ok && pk !== undefined && r.reply.signature instanceof Uint8Array && verifyConsistency(pk, topo.sessionId, phase, attempt, u3, r.reply.signature)) {
            signatures.push({ clientId: id, signature: r.reply.signature });
          }
        }
        if (signatures.length < this.threshold) this.abort('consistency', phase, attempt, signatures.length);
      }

      const unmaskTargets = signatures !== undefined ? signatures.map((s) => s.clientId) : u3;
      const unmask = await this.broadcast('unmask', unmaskTargets, () => ({
        env: this.env('unmask', phase, attempt),
        alive: u3,
        dropped,
        ...(signatures !== undefined ? { signatures } : {}),
      }));
      for (const id of u3) this.selfRevealed.add(id);
      const u5 = [...unmask.entries()]
        .filter(([, r]) => r.ok)
        .map(([id]) => id)
        .sort();
      if (u5.length < this.threshold) this.abort('unmask', phase, attempt, u5.length);

      const total = new Uint32Array(len);
      for (const id of u3) addInto(total, ys.get(id)!);
      try {
        await this.removeSelfMasks(total, u3, unmask, phase, attempt);
        await this.removeDroppedPairMasks(total, u3, dropped, unmask, phase, attempt);
      } catch (err) {
        if (err instanceof SecAggReconstructionError) this.abort('unmask', phase, attempt, err.got);
        throw err;
      }
      // A corrupt masked input (zero, replayed, garbage) leaves a mask that does not cancel: refuse the sum
      // rather than let it move the model (quantize.ts sumOutOfRange).
      const bad = sumOutOfRange(spec, total, u3.length);
      if (bad !== undefined) {
        throw new SecAggAbortedError(
          { stage: 'range-check', phase, attempt, needed: len, got: len - bad.count },
          `secure aggregation discarded sum '${phase}': ${bad.count} of ${len} coordinates lie outside what ${u3.length} honest inputs can reach ` +
            `(first: ${bad.segment}[${bad.index}] = ${bad.value} > ${bad.max}); a masked input was corrupt (zero, replayed or forged)`,
        );
      }
      const sums = decodeSum(spec, total, u3.length);
      this.doneSums.add(phase);
      // The next sum's cohort: those who answered unmask, minus senders whose boxes failed to open somewhere.
      const badSenders = new Set([...this.badBoxes.values()].flatMap((s) => [...s]));
      this.alive = u5.filter((id) => !badSenders.has(id));
      return { phase, sums, survivors: u3, dropped, attempts: attempt + 1 };
    }
  }

  /** Shares of one owner's secret collected from the unmask replies of its neighbours. */
  private sharesOf(owner: string, kind: 'selfShares' | 'skShares', replies: Map<string, Outcome<UnmaskReply>>): Uint8Array[] {
    const holders = new Set(neighbourIds(this.topo!, owner));
    const out: Uint8Array[] = [];
    for (const [holder, r] of replies) {
      if (!r.ok || !holders.has(holder) || this.badBoxes.get(holder)?.has(owner) === true) continue;
      const list = r.reply[kind];
      if (!Array.isArray(list)) continue;
      const entry = list.find((e) => e.clientId === owner);
      if (entry !== undefined && entry.share instanceof Uint8Array) out.push(entry.share);
    }
    return out;
  }

  private async removeSelfMasks(total: Uint32Array, u3: string[], replies: Map<string, Outcome<UnmaskReply>>, phase: string, attempt: number): Promise<void> {
    const topo = this.topo!;
    const jobs: MaskJob[] = [];
    try {
      for (const u of u3) {
        const hash = this.commitments.get(u)?.get(sumKey(phase, attempt));
        if (hash === undefined) throw new SecAggReconstructionError('no-verified-subset', { needed: this.threshold, got: 0, subsetsTried: 0 }, `no commitment for ${u}`);
        const b = await combineVerified(this.sharesOf(u, 'selfShares', replies), this.threshold, (s) => bytesEqual(sha256(s), hash));
        jobs.push({ key: selfMaskKey(b, topo.sessionId, phase, attempt, topo.index.get(u)!), sign: -1 });
        wipe(b);
      }
      await this.expander.apply(total, jobs);
    } finally {
      wipe(...jobs.map((j) => j.key));
    }
  }

  private async removeDroppedPairMasks(total: Uint32Array, u3: string[], dropped: string[], replies: Map<string, Outcome<UnmaskReply>>, phase: string, attempt: number): Promise<void> {
    const topo = this.topo!;
    const alive = new Set(u3);
    const jobs: MaskJob[] = [];
    try {
      for (const v of dropped) {
        const sPk = topo.keys.get(v)!.sPk;
        const sk = await combineVerified(this.sharesOf(v, 'skShares', replies), this.threshold, (s) => publicKeyMatches(s, sPk));
        const vIdx = topo.index.get(v)!;
        for (const u of neighbourIds(topo, v)) {
          if (!alive.has(u)) continue;
          const uIdx = topo.index.get(u)!;
          const shared = agree(sk, topo.keys.get(u)!.sPk);
          // u added σ_uv·PRG(K_uv); remove it.
          jobs.push({ key: pairMaskKey(shared, topo.sessionId, phase, attempt, uIdx, vIdx), sign: maskSign(uIdx, vIdx) === 1 ? -1 : 1 });
          wipe(shared);
        }
        wipe(sk);
      }
      await this.expander.apply(total, jobs);
    } finally {
      wipe(...jobs.map((j) => j.key));
    }
  }
}

/**
 * Resolves the graph option; `auto` sizes the Harary graph (sizing.ts) for the declared dropout rate and corrupted
 * fraction (default 5 % each) and also yields its threshold. Where no Harary graph fits below n (small cohorts) the
 * complete graph is the secure choice; above 255 clients, a rate no graph can carry is refused, naming it.
 */
export function resolveGraph(option: GraphSpec | { kind: 'auto'; dropout?: number; corrupted?: number }, n: number, threatModel: ThreatModel): { graph: GraphSpec; tableThreshold?: number } {
  if (option.kind !== 'auto') return { graph: option };
  const adversary = threatModel === 'active' ? 'semi-malicious' : 'semi-honest';
  try {
    const p = sizeSecAggPlus({ n, dropout: option.dropout ?? 0.05, corrupted: option.corrupted ?? 0.05, adversary });
    if (p.k + 1 >= n && n <= MAX_SHARES) return { graph: { kind: 'complete' } };
    return { graph: { kind: 'harary', degree: p.k }, tableThreshold: p.t };
  } catch (err) {
    if (err instanceof SecAggConfigError && n <= MAX_SHARES) return { graph: { kind: 'complete' } };
    throw err;
  }
}

/** Regroups boxes by recipient (peer = sender), keeping only senders and recipients in `members`. */
function routeBoxes(bySender: Map<string, ShareBox[]>, members: Set<string>): Map<string, ShareBox[]> {
  const out = new Map<string, ShareBox[]>();
  for (const id of members) out.set(id, []);
  for (const [sender, boxes] of bySender) {
    if (!members.has(sender)) continue;
    for (const b of boxes) {
      if (!members.has(b.peer)) continue;
      out.get(b.peer)!.push({ peer: sender, nonce: b.nonce, box: b.box });
    }
  }
  return out;
}

/** The vector layout type, re-exported for callers that build planned sums. */
export type { VectorSpec };
