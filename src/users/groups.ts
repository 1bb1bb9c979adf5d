// Group names and the administrators' group.

export const ADMIN_GROUP = 'admins';
const GROUP = /^[a-z0-9][a-z0-9._-]{0,31}$/;

export function validateGroups(groups: string[]): string[] {
  const clean = [...new Set(groups.map((g) => g.trim().toLowerCase()))];
  for (const g of clean) {
    if (!GROUP.test(g)) throw new RangeError(`invalid group name "${g}": use 1-32 characters a-z, 0-9, ".", "_" or "-"`);
  }
  return clean.sort();
}

export const isAdmin = (groups: readonly string[]): boolean => groups.includes(ADMIN_GROUP);
