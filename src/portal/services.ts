// The household's services on the portal home (portal.services): which of them a member may
// open, asked of the same access rules forward auth uses, so a list never shows a member a
// service the proxy would refuse them (a child never sees the admin-only ones).

import { readOriginalUrl } from '../access/original-request.js';
import type { AccessControl, AccessRequest } from '../access/rules.js';
import type { Config } from '../config/schema.js';

export type PortalService = Config['portal']['services'][number];

export interface Member {
  username: string;
  groups: readonly string[];
  /** The session's level: 2 after a second factor, else 1. */
  level: 1 | 2;
  /** Whether the member has a second factor (a two_factor rule then lets them in after the second step). */
  hasSecondFactor: boolean;
}

export interface ServiceDirectory {
  /** Whether any services are configured at all. */
  readonly configured: boolean;
  /** The services this member may open from this client IP, in the configured order. */
  visibleTo(member: Member, ip: string): PortalService[];
}

export function createServiceDirectory(services: readonly PortalService[], access: AccessControl): ServiceDirectory {
  // Read once, as the forward-auth endpoints read an original URL: the host and the canonical
  // path the rules match. One that cannot be read (config validation refuses those) is never shown.
  const judged = services.map((service) => {
    const original = readOriginalUrl(service.url, 'GET');
    return { service, request: original.ok ? { host: original.request.host, path: original.request.path, method: 'GET' } : null };
  });

  const mayOpen = (request: Omit<AccessRequest, 'ip'>, member: Member, ip: string): boolean => {
    const decision = access.decide({ ...request, ip }, { username: member.username, groups: member.groups, level: member.level });
    if (decision.outcome === 'allow') return true;
    // A two_factor rule and a password-only session: the second step lets a member with a
    // factor in; one without is refused by forward auth (src/access/forward-auth.ts).
    return decision.reason === 'second-factor-required' && member.hasSecondFactor;
  };

  return {
    configured: services.length > 0,
    visibleTo: (member, ip) => judged.filter((j) => j.request !== null && mayOpen(j.request, member, ip)).map((j) => j.service),
  };
}
