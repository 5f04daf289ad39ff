/**
 * Whether secure aggregation can keep a set of members' updates private (docs/spec/secure-aggregation.md §2.2). A
 * sum reveals one member's update to whoever controls all the others, so every principal must leave at least two
 * members outside its control, and must hold fewer than t members (t shares reconstruct a secret). Under open
 * enrolment a principal is a token, since one token may hold many identities.
 */

/** Why `members` are not private against one token's holder, or undefined. */
export function tokenPrivacyProblem(members: readonly string[], threshold: number, what: 'cohort' | 'group', tokenOf: (id: string) => string): string | undefined {
  const byToken = new Map<string, number>();
  for (const id of members) {
    const t = tokenOf(id);
    byToken.set(t, (byToken.get(t) ?? 0) + 1);
  }
  const [, most] = [...byToken].reduce((a, b) => (b[1] > a[1] ? b : a), ['', 0]);
  if (members.length - most < 2 || most >= threshold) {
    return (
      `${most} of the ${members.length} ${what} members joined with one token, so its holder could learn another member's update ` +
      `(needs at least 2 members outside any one token's control and fewer than t = ${threshold} inside it); enrol clients (rfl coordinator enrol) or give each its own token`
    );
  }
  return undefined;
}
