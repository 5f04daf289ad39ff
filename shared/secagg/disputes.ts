/**
 * Who to leave out when share boxes fail to open (docs/spec/secure-aggregation.md §6.1). A complaint "v could not
 * open u's box" is either true (u sent garbage) or false (v lies); the coordinator cannot tell which without a
 * masking secret, and asks for none. It reads the complaints as a graph between clients and leaves out a vertex
 * cover of it, greedily: the client in the most complaints first (as accuser or accused), until no complaint is
 * left; where the remaining complaints are all disjoint pairs, both ends of each. One hostile client then costs
 * at most itself: a sender of garbage to k peers is the centre of k complaints and goes alone; an accuser of k
 * peers likewise; a single complaint costs both its parties, so a liar trades itself for one honest client.
 *
 * Ambiguities resolved: a client accusing itself is ignored; complaints naming clients outside the cohort are
 * ignored; ties in the count go to the smaller client id, so the choice is deterministic.
 */

/** The clients to leave out for these complaints ([accuser, accused] pairs), sorted. */
export function resolveDisputes(complaints: readonly (readonly [string, string])[], cohort: readonly string[]): string[] {
  const members = new Set(cohort);
  const key = (a: string, b: string): string => (a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`);
  const edges = new Map<string, [string, string]>();
  for (const [a, b] of complaints) if (a !== b && members.has(a) && members.has(b)) edges.set(key(a, b), [a, b]);
  const out = new Set<string>();
  while (edges.size > 0) {
    const degree = new Map<string, number>();
    for (const [a, b] of edges.values()) {
      degree.set(a, (degree.get(a) ?? 0) + 1);
      degree.set(b, (degree.get(b) ?? 0) + 1);
    }
    const [top, most] = [...degree].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))[0]!;
    const drop = most > 1 ? [top] : [...new Set([...edges.values()].flat())];
    for (const id of drop) {
      out.add(id);
      for (const [k, [a, b]] of edges) if (a === id || b === id) edges.delete(k);
    }
  }
  return [...out].sort();
}
