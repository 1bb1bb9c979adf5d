// Access rules from config, compiled once: which policy applies to a request for a host,
// path, method and client network, for a given user (or nobody). First match wins, and a
// rule with subjects claims its requests for those subjects (see decide).

import { BlockList, isIP } from 'node:net';
import type { AccessControlSection } from '../config/schema.js';
import { normalizeIp } from '../theft/client-ip.js';

export type Policy = 'bypass' | 'one_factor' | 'two_factor' | 'deny';

export interface AccessRequest {
  /** Host name without port (matched without case and without a trailing dot). */
  host: string;
  /** The canonical path (canonical-path.ts) with the query. */
  path: string;
  method: string;
  ip: string;
}

export interface Subject {
  username: string;
  groups: readonly string[];
  /**
   * The authentication level behind this request: 2 for a session that completed the
   * second factor, 1 (or absent) for a password-only session or an API token.
   */
  level?: 1 | 2;
}

export type Outcome = 'allow' | 'login' | 'deny';

export interface Decision {
  outcome: Outcome;
  policy: Policy;
  /** Index of the matching rule in access_control.rules, or null for the default policy. */
  rule: number | null;
  /**
   * Why a signed-in user is refused or sent back to the portal. 'second-factor-required':
   * a two_factor rule and a level-1 subject; the caller decides between the second step
   * (the user has a factor) and a refusal (no factor, or an API token: see forward-auth.ts).
   */
  reason?: 'policy-deny' | 'subject-mismatch' | 'second-factor-required';
}

interface CompiledRule {
  index: number;
  domains: Array<{ exact: string } | { suffix: string }>;
  resources: RegExp[] | null;
  methods: Set<string> | null;
  networks: BlockList | null;
  /** OR of ANDs of "user:x" / "group:y". */
  subject: string[][] | null;
  policy: Policy;
}

export interface AccessControl {
  readonly defaultPolicy: Policy;
  readonly ruleCount: number;
  decide(request: AccessRequest, subject: Subject | null): Decision;
}

const HOST = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const SUBJECT = /^(user|group):[a-z0-9][a-z0-9._-]{0,63}$/;

/**
 * Host names ignore case, and "app.example." (the DNS root spelt out) is "app.example": one
 * form for matching, so neither dodges a domain rule (Authelia CVE-2026-48794, tinyauth
 * CVE-2026-77560). The endpoints refuse a trailing dot before asking; decide() does not
 * rely on its callers for that.
 */
function canonicalHost(host: string): string {
  const lower = host.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

function addNetwork(list: BlockList, entry: string): boolean {
  const [addr, bits, ...rest] = entry.split('/');
  if (rest.length || addr === undefined) return false;
  const family = isIP(addr);
  if (family === 0) return false;
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (bits === undefined) {
    list.addAddress(addr, type);
    return true;
  }
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return false;
  list.addSubnet(addr, prefix, type);
  return true;
}

function inNetworks(list: BlockList, ip: string): boolean {
  const clean = normalizeIp(ip);
  const family = isIP(clean);
  return family !== 0 && list.check(clean, family === 4 ? 'ipv4' : 'ipv6');
}

/** Compiles the rules; returns every problem (with its key) instead of stopping at the first. */
export function compileAccessControl(section: AccessControlSection): { control: AccessControl; problems: string[] } {
  const problems: string[] = [];
  const named = new Map<string, string[]>(Object.entries(section.networks));
  for (const [name, entries] of named) {
    entries.forEach((entry, i) => {
      if (!addNetwork(new BlockList(), entry)) problems.push(`access_control.networks.${name}.${i}: "${entry}" is not an IP address or CIDR`);
    });
  }

  const rules: CompiledRule[] = section.rules.map((rule, index) => {
    const key = `access_control.rules.${index}`;
    const domains = rule.domain.map((d, i) => {
      const pattern = d.trim().toLowerCase();
      const wildcard = pattern.startsWith('*.');
      const host = wildcard ? pattern.slice(2) : pattern;
      if (!HOST.test(host)) problems.push(`${key}.domain.${i}: "${d}" must be a host name ("app.home.example") or "*." followed by one`);
      return wildcard ? { suffix: `.${host}` } : { exact: host };
    });
    const resources = rule.resources?.map((source, i) => {
      try {
        // Case-insensitive. Many upstreams ignore case (Express and ASP.NET routing, Windows
        // and macOS file systems): with case-sensitive matching, "/ADMIN" would dodge a deny
        // or subject rule on "^/admin" and still be served as /admin. The cost falls on a
        // rule that opens something: a bypass rule on "^/public/" also opens "/PUBLIC/x". An
        // upstream that ignores case serves that as /public/x, which the rule opens anyway;
        // one that respects case would need a protected resource that differs from a public
        // one only in case, which a household service does not have. The other way round
        // (a rule that dodges by case) is a known bypass. The canonical path is ASCII only
        // (canonical-path.ts), so no Unicode case folding ("ſ" as "s") comes into play.
        return new RegExp(source, 'iu');
      } catch (err) {
        problems.push(`${key}.resources.${i}: not a valid regular expression (${(err as Error).message})`);
        return /$^/;
      }
    });
    let networks: BlockList | null = null;
    if (rule.networks) {
      networks = new BlockList();
      for (const [i, entry] of rule.networks.entries()) {
        const list = named.get(entry);
        if (list) list.forEach((n) => addNetwork(networks as BlockList, n));
        else if (!addNetwork(networks, entry)) {
          problems.push(`${key}.networks.${i}: "${entry}" is neither a CIDR nor a name from access_control.networks`);
        }
      }
    }
    const subject = rule.subject?.map((group) => (Array.isArray(group) ? group : [group]));
    subject?.flat().forEach((s) => {
      if (!SUBJECT.test(s)) problems.push(`${key}.subject: "${s}" must be "user:NAME" or "group:NAME" (lower case)`);
    });
    if (subject && rule.policy === 'bypass') {
      problems.push(`${key}: a bypass rule cannot have a subject (nobody is identified on bypassed requests); use one_factor`);
    }
    return {
      index,
      domains,
      resources: resources ?? null,
      methods: rule.methods ? new Set(rule.methods.map((m) => m.toUpperCase())) : null,
      networks,
      subject: subject ?? null,
      policy: rule.policy,
    };
  });

  const outcomeFor = (policy: Policy, rule: number | null, subject: Subject | null): Decision => {
    switch (policy) {
      case 'bypass':
        return { outcome: 'allow', policy, rule };
      case 'one_factor':
        return subject ? { outcome: 'allow', policy, rule } : { outcome: 'login', policy, rule };
      case 'two_factor':
        // Only a session that completed the second factor passes; a password-only one is
        // sent back for the second step (never shown the resource).
        if (!subject) return { outcome: 'login', policy, rule };
        return subject.level === 2 ? { outcome: 'allow', policy, rule } : { outcome: 'login', policy, rule, reason: 'second-factor-required' };
      case 'deny':
        return { outcome: 'deny', policy, rule, reason: 'policy-deny' };
    }
  };

  const matchesRequest = (rule: CompiledRule, req: AccessRequest, host: string): boolean =>
    rule.domains.some((d) => ('exact' in d ? host === d.exact : host.endsWith(d.suffix))) &&
    (rule.methods === null || rule.methods.has(req.method)) &&
    (rule.networks === null || inNetworks(rule.networks, req.ip)) &&
    (rule.resources === null || rule.resources.some((r) => r.test(req.path)));

  const matchesSubject = (rule: CompiledRule, s: Subject): boolean =>
    (rule.subject as string[][]).some((all) =>
      all.every((item) => (item.startsWith('user:') ? s.username === item.slice(5) : s.groups.includes(item.slice(6)))),
    );

  const control: AccessControl = {
    defaultPolicy: section.default_policy,
    ruleCount: rules.length,
    decide(req, subject) {
      // A rule that grants access to named subjects claims the requests it matches: once
      // one has matched (and the user is not among its subjects), only later rules that
      // also name subjects may still apply. So "admin.home.example is for group:admins" is
      // not undone by a later catch-all "*.home.example: one_factor". A deny rule with
      // subjects only refuses those subjects; everybody else goes on as usual.
      let claimed = false;
      const host = canonicalHost(req.host);
      for (const rule of rules) {
        if (claimed && !rule.subject) continue;
        if (!matchesRequest(rule, req, host)) continue;
        if (rule.subject) {
          // The rule depends on who asks: an anonymous request must sign in first.
          if (!subject) return { outcome: 'login', policy: rule.policy, rule: rule.index };
          if (!matchesSubject(rule, subject)) {
            if (rule.policy !== 'deny') claimed = true;
            continue;
          }
        }
        return outcomeFor(rule.policy, rule.index, subject);
      }
      if (claimed) return { outcome: 'deny', policy: 'deny', rule: null, reason: 'subject-mismatch' };
      return outcomeFor(section.default_policy, null, subject);
    },
  };
  return { control, problems };
}
