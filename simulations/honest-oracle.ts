/**
 * The simulation-only oracle of threats-and-evaluation.md §2: colluding, omniscient behaviours (ALIE, IPM,
 * omniscient sign flipping) need the round's honest updates. Honest virtual clients report their update here
 * as they finish training; a corrupted client waits until every honest member of the cohort has reported (or
 * failed). Nothing under server/ may import this: the coordinator never sees individual updates.
 */
interface RoundState {
  expected: Set<string>;
  declared: boolean;
  got: Map<string, Float32Array | null>;
  waiters: (() => void)[];
}

/** Collects the honest updates of each round. */
export class HonestOracle {
  private readonly rounds = new Map<number, RoundState>();

  /** Declares the honest members of round `round`'s cohort (before any of them trains). */
  expect(round: number, honest: readonly string[]): void {
    const s = this.state(round);
    s.expected = new Set(honest);
    s.declared = true;
    this.settle(round);
  }

  /** An honest client's update for the round, or null when its training failed. */
  report(round: number, clientId: string, update: Float32Array | null): void {
    const s = this.state(round);
    s.got.set(clientId, update);
    this.settle(round);
  }

  /** The round's honest updates, in client-id order, once every expected member has reported. */
  async honest(round: number): Promise<Float32Array[]> {
    return (await this.honestWithIds(round)).updates;
  }

  /** The round's honest updates and their clients' ids (same order, client-id order), as `honest` waits for them. */
  async honestWithIds(round: number): Promise<{ ids: string[]; updates: Float32Array[] }> {
    const s = this.state(round);
    if (s.declared && s.expected.size === 0) throw new Error(`round ${round}: the cohort has no honest member to collude with`);
    if (!this.complete(s)) await new Promise<void>((resolve) => s.waiters.push(resolve));
    const ids = [...s.expected].sort().filter((id) => {
      const u = s.got.get(id);
      return u !== null && u !== undefined;
    });
    if (ids.length === 0) throw new Error(`round ${round}: no honest update to collude with`);
    return { ids, updates: ids.map((id) => s.got.get(id)!) };
  }

  /** Forgets rounds up to `round`. */
  endRound(round: number): void {
    for (const r of [...this.rounds.keys()]) if (r <= round) this.rounds.delete(r);
  }

  private state(round: number): RoundState {
    let s = this.rounds.get(round);
    if (s === undefined) this.rounds.set(round, (s = { expected: new Set(), declared: false, got: new Map(), waiters: [] }));
    return s;
  }

  private complete(s: RoundState): boolean {
    for (const id of s.expected) if (!s.got.has(id)) return false;
    return s.expected.size > 0;
  }

  private settle(round: number): void {
    const s = this.state(round);
    if (this.complete(s)) for (const w of s.waiters.splice(0)) w();
  }
}
