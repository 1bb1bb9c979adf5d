// The two_factor config policy: whether a user must sign in with a second factor, by group
// (two_factor.required_for_groups) or by where the request comes from
// (two_factor.required_outside_networks), and what a session of theirs still lacks.

import { BlockList, isIP } from 'node:net';
import type { Config } from '../config/schema.js';
import { normalizeIp } from '../theft/client-ip.js';
import type { AuthLevel } from '../sessions/types.js';

/** Why a user must use a second factor: the groups rule (which of their groups), the networks rule. */
export interface SecondFactorReasons {
  /** The user's groups listed in two_factor.required_for_groups. */
  groups: string[];
  /** The client IP is outside two_factor.required_outside_networks. */
  outsideNetworks: boolean;
}

export interface SecondFactorPolicy {
  /** Whether this user, asking from this client IP, must use a second factor. */
  required(user: { groups: readonly string[] }, ip: string): boolean;
  /** The rules that make it required (to tell the user why), or null when none does. */
  reasons(user: { groups: readonly string[] }, ip: string): SecondFactorReasons | null;
}

export function createSecondFactorPolicy(section: Config['two_factor']): SecondFactorPolicy {
  const groups = new Set(section.required_for_groups);
  let home: BlockList | null = null;
  if (section.required_outside_networks.length > 0) {
    home = new BlockList();
    for (const entry of section.required_outside_networks) {
      const [addr = '', bits] = entry.split('/');
      const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
      if (bits === undefined) home.addAddress(addr, type);
      else home.addSubnet(addr, Number(bits), type);
    }
  }
  const outside = (ip: string): boolean => {
    if (!home) return false;
    const clean = normalizeIp(ip);
    const family = isIP(clean);
    // An address we cannot read is not known to be at home: fail closed.
    if (family === 0) return true;
    return !home.check(clean, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    required: (user, ip) => user.groups.some((g) => groups.has(g)) || outside(ip),
    reasons: (user, ip) => {
      const reasons = { groups: user.groups.filter((g) => groups.has(g)), outsideNetworks: outside(ip) };
      return reasons.groups.length > 0 || reasons.outsideNetworks ? reasons : null;
    },
  };
}

/**
 * What a signed-in session of a user who must use a second factor still needs:
 * nothing at level 2; otherwise 'step-up' when the user has a factor (the second step,
 * without the password again), 'enroll' when they have none.
 */
export function missingSecondFactor(level: AuthLevel, hasSecondFactor: () => boolean): 'none' | 'step-up' | 'enroll' {
  if (level === 2) return 'none';
  return hasSecondFactor() ? 'step-up' : 'enroll';
}
