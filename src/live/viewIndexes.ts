import { byCodeUnit } from '../projections/lifecycleView.js';

/**
 * A many-to-one relation kept both ways (each member in at most one group): which group a member is
 * in, and every member of a group, without a scan. The live view keeps three: the pool each agent
 * occupies, the host each running agent runs on, and the agent of each session in view.
 */
export interface Grouping {
  /** Moves `member` to `group` (null: in none). */
  put(member: string, group: string | null): void;
  /** The group's members, sorted by code unit (a fresh array). */
  sortedMembers(group: string): string[];
  /** How many members the group has. */
  count(group: string): number;
}

export const createGrouping = (): Grouping => {
  const groupOf = new Map<string, string>();
  const members = new Map<string, Set<string>>();
  return {
    put(member, group) {
      const before = groupOf.get(member) ?? null;
      if (before === group) return;
      if (before !== null) {
        const set = members.get(before)!;
        set.delete(member);
        if (set.size === 0) members.delete(before);
        groupOf.delete(member);
      }
      if (group !== null) {
        let set = members.get(group);
        if (set === undefined) members.set(group, (set = new Set()));
        set.add(member);
        groupOf.set(member, group);
      }
    },
    sortedMembers: (group) => [...(members.get(group) ?? [])].sort(byCodeUnit),
    count: (group) => members.get(group)?.size ?? 0,
  };
};
