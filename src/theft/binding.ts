// IP binding: whether a session bound to one client address may be used from another.
// strict: the same address; subnet: the same /24 (IPv4) or /64 (IPv6); off: any. Inside
// the exempt networks a session may roam freely (both addresses must be inside).

import { BlockList, isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { normalizeIp } from './client-ip.js';

export type BindingPolicy = 'strict' | 'subnet' | 'off';

export interface IpBinding {
  /** True when `seen` may use a session bound to `bound`. */
  allows(bound: string | null, seen: string): boolean;
}

function toBlockList(networks: string[]): BlockList {
  const list = new BlockList();
  for (const entry of networks) {
    const [addr, bits] = entry.split('/');
    const family = isIP(addr ?? '');
    if (!addr || family === 0) continue; // validated at config load
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** Same /24 (IPv4) or /64 (IPv6); addresses of different families never match. */
export function sameSubnet(a: string, b: string): boolean {
  if (!ipaddr.isValid(a) || !ipaddr.isValid(b)) return false;
  const left = ipaddr.parse(a);
  const right = ipaddr.parse(b);
  if (left.kind() !== right.kind()) return false;
  return left.match(right, left.kind() === 'ipv4' ? 24 : 64);
}

export function createIpBinding(policy: BindingPolicy, exemptNetworks: string[]): IpBinding {
  const exempt = toBlockList(exemptNetworks);
  const inExempt = (ip: string): boolean => {
    const family = isIP(ip);
    return family !== 0 && exempt.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  };
  return {
    allows(boundRaw, seenRaw) {
      // A session without a bound address was never signed in; nothing to compare.
      if (policy === 'off' || boundRaw === null) return true;
      const bound = normalizeIp(boundRaw);
      const seen = normalizeIp(seenRaw);
      if (bound === seen) return true;
      if (inExempt(bound) && inExempt(seen)) return true;
      return policy === 'subnet' && sameSubnet(bound, seen);
    },
  };
}
