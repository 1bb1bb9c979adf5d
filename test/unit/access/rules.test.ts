// Access rules: which rule matches a request (domain, resources, methods, networks,
// subjects), first match wins, the default policy, what each policy means for a signed-in
// user and for nobody, the "subject rules claim their requests" semantics, and compile
// problems reported all together.

import { expect } from 'chai';
import { compileAccessControl, type AccessControl, type AccessRequest, type Decision, type Subject } from '../../../src/access/rules.js';
import { accessControlSection } from '../../../src/config/schema.js';
import { EXAMPLE_ACCESS_CONTROL } from '../../support/forward-auth.js';

/** Compiles raw YAML-like access_control through the real schema. */
function compile(raw: Record<string, unknown>): { control: AccessControl; problems: string[] } {
  return compileAccessControl(accessControlSection.parse(raw));
}

function rules(raw: Record<string, unknown>): AccessControl {
  const { control, problems } = compile(raw);
  expect(problems, 'compile problems').to.deep.equal([]);
  return control;
}

/** A request for an absolute URL, from a client address. */
function at(url: string, options: { method?: string; ip?: string } = {}): AccessRequest {
  const u = new URL(url);
  return { host: u.hostname, path: `${u.pathname}${u.search}`, method: options.method ?? 'GET', ip: options.ip ?? '203.0.113.10' };
}

const alice: Subject = { username: 'alice', groups: ['family'] };
const root: Subject = { username: 'root', groups: ['admins', 'family'] };

/** Whether the one rule in `rule` (default deny) lets alice through. */
function allows(rule: Record<string, unknown>, url: string, options: { method?: string; ip?: string; subject?: Subject | null } = {}): boolean {
  const control = rules({ default_policy: 'deny', rules: [{ policy: 'one_factor', ...rule }] });
  return control.decide(at(url, options), options.subject === undefined ? alice : options.subject).outcome === 'allow';
}

/** The example configuration. */
const EXAMPLE = EXAMPLE_ACCESS_CONTROL;

describe('access rules', () => {
  describe('domain', () => {
    it('an exact domain matches that host only', () => {
      const rule = { domain: 'app.home.example' };
      expect(allows(rule, 'https://app.home.example/')).to.equal(true);
      expect(allows(rule, 'https://app.home.example:8443/x')).to.equal(true);
      for (const other of ['https://home.example/', 'https://www.app.home.example/', 'https://app.home.example.evil.com/', 'https://xapp.home.example/']) {
        expect(allows(rule, other), other).to.equal(false);
      }
    });

    it('domains in the config are compared case-insensitively', () => {
      expect(allows({ domain: 'App.Home.Example' }, 'https://app.home.example/')).to.equal(true);
      expect(allows({ domain: '*.Home.Example' }, 'https://app.home.example/')).to.equal(true);
    });

    it('a mixed-case or trailing-dot host matches the same rules as the plain host (Authelia CVE-2026-48794, tinyauth CVE-2026-77560)', () => {
      const control = rules(EXAMPLE);
      const decide = (host: string, who: Subject | null) => control.decide({ host, path: '/', method: 'GET', ip: '203.0.113.10' }, who);
      for (const host of ['Admin.Home.Example', 'ADMIN.HOME.EXAMPLE', 'admin.home.example.', 'Admin.Home.Example.']) {
        expect(decide(host, alice), host).to.deep.equal(decide('admin.home.example', alice));
        expect(decide(host, alice).outcome, host).to.equal('deny');
        expect(decide(host, root).outcome, host).to.equal('allow');
        expect(decide(host, null).outcome, host).to.equal('login');
      }
      for (const host of ['App.Home.Example', 'app.home.example.']) expect(decide(host, null).rule, host).to.equal(3);
      // Only one trailing dot is the DNS root; anything else is another name.
      expect(decide('admin.home.example..', root).rule).to.equal(null);
    });

    it('"*." matches subdomains at any depth', () => {
      const rule = { domain: '*.home.example' };
      for (const url of ['https://app.home.example/', 'https://a.b.home.example/', 'https://x.y.z.home.example/p']) {
        expect(allows(rule, url), url).to.equal(true);
      }
    });

    it('"*." does not match the apex, a look-alike suffix or a longer domain', () => {
      const rule = { domain: '*.home.example' };
      for (const url of ['https://home.example/', 'https://xhome.example/', 'https://evilhome.example/', 'https://app.home.example.evil.com/', 'https://home.example.com/']) {
        expect(allows(rule, url), url).to.equal(false);
      }
    });

    it('several domains: any of them matches', () => {
      const rule = { domain: ['home.example', '*.home.example', 'media.other.example'] };
      for (const url of ['https://home.example/', 'https://app.home.example/', 'https://media.other.example/']) {
        expect(allows(rule, url), url).to.equal(true);
      }
      expect(allows(rule, 'https://other.example/')).to.equal(false);
    });
  });

  describe('resources', () => {
    it('are regular expressions tested against the path', () => {
      const rule = { domain: 'app.home.example', resources: ['^/api/'] };
      expect(allows(rule, 'https://app.home.example/api/items')).to.equal(true);
      expect(allows(rule, 'https://app.home.example/apix')).to.equal(false);
      expect(allows(rule, 'https://app.home.example/x/api/')).to.equal(false);
      expect(allows(rule, 'https://app.home.example/')).to.equal(false);
    });

    it('see the query string as well', () => {
      const rule = { domain: 'app.home.example', resources: ['[?&]share=[a-z0-9]+$'] };
      expect(allows(rule, 'https://app.home.example/file?share=abc123')).to.equal(true);
      expect(allows(rule, 'https://app.home.example/file?x=1&share=abc')).to.equal(true);
      expect(allows(rule, 'https://app.home.example/file')).to.equal(false);
    });

    it('ignore case, so /ADMIN cannot dodge a deny or subject rule on ^/admin in front of an upstream that ignores case', () => {
      const control = rules({
        default_policy: 'one_factor',
        rules: [
          { domain: 'app.home.example', resources: ['^/admin([/?]|$)'], subject: 'group:admins', policy: 'one_factor' },
          { domain: 'app.home.example', resources: ['^/private/'], policy: 'deny' },
        ],
      });
      for (const path of ['/admin', '/Admin', '/ADMIN/x', '/aDmIn?x=1']) {
        expect(control.decide(at(`https://app.home.example${path}`), alice), path).to.include({ outcome: 'deny', reason: 'subject-mismatch' });
        expect(control.decide(at(`https://app.home.example${path}`), root).outcome, path).to.equal('allow');
      }
      for (const path of ['/private/x', '/PRIVATE/x', '/Private/x']) expect(control.decide(at(`https://app.home.example${path}`), root).outcome, path).to.equal('deny');
    });

    it('ignore case in bypass rules too: /PUBLIC/ is what an upstream ignoring case serves as /public/', () => {
      const rule = { domain: 'app.home.example', resources: ['^/public/'], policy: 'bypass' };
      for (const path of ['/public/x', '/PUBLIC/x', '/Public/x']) expect(allows(rule, `https://app.home.example${path}`, { subject: null }), path).to.equal(true);
      expect(allows(rule, 'https://app.home.example/publicx', { subject: null })).to.equal(false);
    });

    it('several resources: any of them matches; unanchored ones match anywhere', () => {
      const rule = { domain: 'app.home.example', resources: ['^/static/', '\\.css$'] };
      expect(allows(rule, 'https://app.home.example/static/logo.png')).to.equal(true);
      expect(allows(rule, 'https://app.home.example/theme/site.css')).to.equal(true);
      expect(allows(rule, 'https://app.home.example/theme/site.js')).to.equal(false);
    });
  });

  describe('methods', () => {
    it('match the original method, whatever case the config uses', () => {
      const rule = { domain: 'app.home.example', methods: ['post', 'PUT'] };
      expect(allows(rule, 'https://app.home.example/', { method: 'POST' })).to.equal(true);
      expect(allows(rule, 'https://app.home.example/', { method: 'PUT' })).to.equal(true);
      expect(allows(rule, 'https://app.home.example/', { method: 'GET' })).to.equal(false);
      expect(allows(rule, 'https://app.home.example/', { method: 'DELETE' })).to.equal(false);
    });
  });

  describe('networks', () => {
    const on = (networks: string[], ip: string, named: Record<string, string[]> = {}) =>
      rules({ networks: named, rules: [{ domain: 'app.home.example', networks, policy: 'bypass' }] }).decide(at('https://app.home.example/', { ip }), null).outcome === 'allow';

    it('an IPv4 CIDR', () => {
      expect(on(['10.0.0.0/8'], '10.1.2.3')).to.equal(true);
      expect(on(['10.0.0.0/8'], '10.255.255.255')).to.equal(true);
      expect(on(['10.0.0.0/8'], '11.0.0.1')).to.equal(false);
      expect(on(['10.0.0.0/8'], '9.255.255.255')).to.equal(false);
    });

    it('an IPv6 CIDR, whatever the case of the client address', () => {
      expect(on(['fd00::/8'], 'fd12:3456::1')).to.equal(true);
      expect(on(['fd00::/8'], 'FD12:3456::1')).to.equal(true);
      expect(on(['fd00::/8'], 'fe80::1')).to.equal(false);
      expect(on(['2001:db8::/32'], '2001:db8:1::5')).to.equal(true);
      expect(on(['2001:db8::/32'], '2001:db9::5')).to.equal(false);
    });

    it('a single address (v4 and v6)', () => {
      expect(on(['192.0.2.7'], '192.0.2.7')).to.equal(true);
      expect(on(['192.0.2.7'], '192.0.2.8')).to.equal(false);
      expect(on(['2001:db8::7'], '2001:db8::7')).to.equal(true);
      expect(on(['2001:db8::7'], '2001:db8::8')).to.equal(false);
    });

    it('a named list from access_control.networks, mixed with a CIDR', () => {
      const named = { lan: ['192.168.0.0/16', 'fd00::/8'] };
      expect(on(['lan'], '192.168.1.5', named)).to.equal(true);
      expect(on(['lan'], 'fd00::5', named)).to.equal(true);
      expect(on(['lan'], '203.0.113.5', named)).to.equal(false);
      expect(on(['lan', '203.0.113.0/24'], '203.0.113.5', named)).to.equal(true);
    });

    it('an IPv4-mapped IPv6 client address counts as its IPv4 address', () => {
      expect(on(['192.168.0.0/16'], '::ffff:192.168.1.5')).to.equal(true);
      expect(on(['192.168.0.0/16'], '::FFFF:192.168.1.5')).to.equal(true);
      expect(on(['192.168.0.0/16'], '::ffff:10.0.0.1')).to.equal(false);
    });

    it('an empty or garbage client address matches no network', () => {
      expect(on(['0.0.0.0/0'], '')).to.equal(false);
      expect(on(['0.0.0.0/0'], 'not-an-ip')).to.equal(false);
    });

    it('all criteria of a rule must match together', () => {
      const control = rules(EXAMPLE);
      const lanApi = (ip: string, path: string) => control.decide(at(`https://app.home.example${path}`, { ip }), alice).rule;
      expect(lanApi('192.168.1.5', '/api/x')).to.equal(2);
      expect(lanApi('203.0.113.5', '/api/x')).to.equal(3);
      expect(lanApi('192.168.1.5', '/x')).to.equal(3);
    });
  });

  describe('subjects', () => {
    const with_ = (subject: unknown, who: Subject) => allows({ domain: 'app.home.example', subject }, 'https://app.home.example/', { subject: who });

    it('user:NAME matches that user only', () => {
      expect(with_('user:alice', alice)).to.equal(true);
      expect(with_('user:alice', root)).to.equal(false);
    });

    it('group:NAME matches members of that group', () => {
      expect(with_('group:admins', root)).to.equal(true);
      expect(with_('group:admins', alice)).to.equal(false);
      expect(with_(['group:family'], alice)).to.equal(true);
    });

    it('the outer list is OR', () => {
      const subject = ['user:bob', 'group:admins'];
      expect(with_(subject, root)).to.equal(true);
      expect(with_(subject, { username: 'bob', groups: [] })).to.equal(true);
      expect(with_(subject, alice)).to.equal(false);
    });

    it('an inner list is AND', () => {
      const subject = [['group:family', 'group:adults']];
      expect(with_(subject, alice)).to.equal(false);
      expect(with_(subject, { username: 'carol', groups: ['family', 'adults'] })).to.equal(true);
      expect(with_([['group:adults', 'user:alice'], 'group:admins'], { ...alice, groups: ['adults'] })).to.equal(true);
      expect(with_([['group:adults', 'user:alice'], 'group:admins'], { username: 'dave', groups: ['adults'] })).to.equal(false);
    });

    it('a group name is not a user name (and the reverse)', () => {
      expect(with_('user:family', alice)).to.equal(false);
      expect(with_('group:alice', alice)).to.equal(false);
    });
  });

  describe('order and default', () => {
    it('the first matching rule wins', () => {
      const allowFirst = rules({ rules: [{ domain: 'app.home.example', resources: ['^/public/'], policy: 'bypass' }, { domain: 'app.home.example', policy: 'deny' }] });
      expect(allowFirst.decide(at('https://app.home.example/public/a'), null)).to.deep.equal({ outcome: 'allow', policy: 'bypass', rule: 0 });
      expect(allowFirst.decide(at('https://app.home.example/private'), null)).to.include({ outcome: 'deny', rule: 1 });

      const denyFirst = rules({ rules: [{ domain: 'app.home.example', policy: 'deny' }, { domain: 'app.home.example', resources: ['^/public/'], policy: 'bypass' }] });
      expect(denyFirst.decide(at('https://app.home.example/public/a'), null)).to.include({ outcome: 'deny', rule: 0 });
    });

    it('the default policy applies when no rule matches (rule null)', () => {
      const withDefault = (default_policy: string) => rules({ default_policy, rules: [{ domain: 'app.home.example', policy: 'bypass' }] });
      expect(withDefault('deny').decide(at('https://other.home.example/'), alice)).to.deep.equal({ outcome: 'deny', policy: 'deny', rule: null, reason: 'policy-deny' });
      expect(withDefault('one_factor').decide(at('https://other.home.example/'), alice)).to.deep.equal({ outcome: 'allow', policy: 'one_factor', rule: null });
      expect(withDefault('one_factor').decide(at('https://other.home.example/'), null)).to.deep.equal({ outcome: 'login', policy: 'one_factor', rule: null });
      expect(withDefault('bypass').decide(at('https://other.home.example/'), null)).to.include({ outcome: 'allow', rule: null });
    });

    it('the default default is deny, and no rules at all means the default', () => {
      const control = rules({});
      expect(control.defaultPolicy).to.equal('deny');
      expect(control.ruleCount).to.equal(0);
      expect(control.decide(at('https://app.home.example/'), root)).to.include({ outcome: 'deny', rule: null });
    });
  });

  describe('policies', () => {
    const decide = (policy: string, subject: Subject | null, extra: Record<string, unknown> = {}): Decision =>
      rules({ default_policy: 'bypass', rules: [{ domain: 'app.home.example', policy, ...extra }] }).decide(at('https://app.home.example/'), subject);

    it('bypass lets everybody through, signed in or not', () => {
      expect(decide('bypass', null)).to.deep.equal({ outcome: 'allow', policy: 'bypass', rule: 0 });
      expect(decide('bypass', alice)).to.deep.equal({ outcome: 'allow', policy: 'bypass', rule: 0 });
    });

    it('one_factor: sign in first, then allowed', () => {
      expect(decide('one_factor', null)).to.deep.equal({ outcome: 'login', policy: 'one_factor', rule: 0 });
      expect(decide('one_factor', alice)).to.deep.equal({ outcome: 'allow', policy: 'one_factor', rule: 0 });
    });

    it('two_factor: anonymous must sign in; a password-only session gets the second step; level 2 passes', () => {
      expect(decide('two_factor', null)).to.deep.equal({ outcome: 'login', policy: 'two_factor', rule: 0 });
      expect(decide('two_factor', root)).to.deep.equal({ outcome: 'login', policy: 'two_factor', rule: 0, reason: 'second-factor-required' });
      expect(decide('two_factor', { ...root, level: 1 })).to.deep.equal({ outcome: 'login', policy: 'two_factor', rule: 0, reason: 'second-factor-required' });
      expect(decide('two_factor', { ...root, level: 2 })).to.deep.equal({ outcome: 'allow', policy: 'two_factor', rule: 0 });
    });

    it('deny refuses everybody, signed in or not', () => {
      expect(decide('deny', null)).to.deep.equal({ outcome: 'deny', policy: 'deny', rule: 0, reason: 'policy-deny' });
      expect(decide('deny', root)).to.deep.equal({ outcome: 'deny', policy: 'deny', rule: 0, reason: 'policy-deny' });
    });

    it('an anonymous request that meets a subject rule must sign in (whatever its policy)', () => {
      expect(decide('one_factor', null, { subject: 'group:admins' })).to.deep.equal({ outcome: 'login', policy: 'one_factor', rule: 0 });
      expect(decide('deny', null, { subject: 'group:kids' })).to.include({ outcome: 'login', rule: 0 });
      // Not a kid: a deny rule does not claim the request, so the default (bypass) applies.
      expect(decide('deny', alice, { subject: 'group:kids' })).to.deep.equal({ outcome: 'allow', policy: 'bypass', rule: null });
      // A granting rule does claim it: not an admin, not the default bypass.
      expect(decide('one_factor', alice, { subject: 'group:admins' })).to.deep.equal({ outcome: 'deny', policy: 'deny', rule: null, reason: 'subject-mismatch' });
    });
  });

  describe('subject rules claim their requests', () => {
    it('a member is refused on the admins-only host despite the later catch-all', () => {
      const control = rules(EXAMPLE);
      expect(control.decide(at('https://admin.home.example/'), alice)).to.deep.equal({ outcome: 'deny', policy: 'deny', rule: null, reason: 'subject-mismatch' });
      expect(control.decide(at('https://admin.home.example/'), root)).to.deep.equal({ outcome: 'allow', policy: 'one_factor', rule: 1 });
      expect(control.decide(at('https://admin.home.example/'), null)).to.deep.equal({ outcome: 'login', policy: 'one_factor', rule: 1 });
    });

    it('the claim covers only what the subject rule matched: other hosts still reach the catch-all', () => {
      const control = rules(EXAMPLE);
      expect(control.decide(at('https://app.home.example/'), alice)).to.deep.equal({ outcome: 'allow', policy: 'one_factor', rule: 3 });
      expect(control.decide(at('https://public.home.example/'), null)).to.deep.equal({ outcome: 'allow', policy: 'bypass', rule: 0 });
    });

    it('a later rule naming another subject can still apply', () => {
      const control = rules({
        default_policy: 'deny',
        rules: [
          { domain: 'admin.home.example', subject: 'group:admins', policy: 'one_factor' },
          { domain: 'admin.home.example', subject: 'user:alice', resources: ['^/status$'], policy: 'one_factor' },
          { domain: '*.home.example', policy: 'one_factor' },
        ],
      });
      expect(control.decide(at('https://admin.home.example/status'), alice)).to.deep.equal({ outcome: 'allow', policy: 'one_factor', rule: 1 });
      expect(control.decide(at('https://admin.home.example/settings'), alice)).to.include({ outcome: 'deny', reason: 'subject-mismatch' });
      expect(control.decide(at('https://admin.home.example/status'), { username: 'bob', groups: [] })).to.include({ outcome: 'deny', reason: 'subject-mismatch' });
    });

    it('a later subject rule that matches applies its own policy (deny included)', () => {
      const control = rules({
        default_policy: 'one_factor',
        rules: [
          { domain: 'tv.home.example', subject: 'group:adults', policy: 'one_factor' },
          { domain: 'tv.home.example', subject: 'group:kids', policy: 'deny' },
          { domain: '*.home.example', policy: 'bypass' },
        ],
      });
      expect(control.decide(at('https://tv.home.example/'), { username: 'kid', groups: ['kids'] })).to.deep.equal({ outcome: 'deny', policy: 'deny', rule: 1, reason: 'policy-deny' });
      expect(control.decide(at('https://tv.home.example/'), alice)).to.include({ outcome: 'deny', reason: 'subject-mismatch' });
    });
  });

  describe('deny rules with subjects', () => {
    it('refuse only their subjects: everybody else goes on to the later rules', () => {
      const control = rules({
        default_policy: 'deny',
        rules: [
          { domain: 'tv.home.example', subject: 'group:kids', policy: 'deny' },
          { domain: '*.home.example', policy: 'one_factor' },
        ],
      });
      expect(control.decide(at('https://tv.home.example/'), { username: 'kid', groups: ['kids'] })).to.include({ outcome: 'deny', rule: 0 });
      expect(control.decide(at('https://tv.home.example/'), alice)).to.deep.equal({ outcome: 'allow', policy: 'one_factor', rule: 1 });
    });
  });

  describe('compile problems', () => {
    it('a valid configuration compiles without problems', () => {
      expect(compile(EXAMPLE).problems).to.deep.equal([]);
    });

    it('reports every problem at once, each with its key', () => {
      const { problems } = compile({
        networks: { lan: ['192.168.0.0/16', '192.168.0.0/33'], wifi: ['not-an-ip'] },
        rules: [
          { domain: 'app.home.example', resources: ['^/ok/', '(unclosed'], policy: 'one_factor' },
          { domain: 'app.home.example', networks: ['10.0.0.0/33', '300.1.1.1', 'wan', 'lan', '10.0.0.0/8/8'], policy: 'one_factor' },
          { domain: 'app.home.example', subject: ['admins', ['group:Admins', 'role:x'], 'user:'], policy: 'one_factor' },
          { domain: 'public.home.example', subject: 'group:admins', policy: 'bypass' },
          { domain: ['*', 'app.*.example', 'https://app.home.example', 'home.example:443', '*.*.home.example', 'home.example.', 'ok.home.example'], policy: 'deny' },
        ],
      });
      const expected: Array<[string, RegExp]> = [
        ['access_control.networks.lan.1', /192\.168\.0\.0\/33/],
        ['access_control.networks.wifi.0', /not-an-ip/],
        ['access_control.rules.0.resources.1', /regular expression/],
        ['access_control.rules.1.networks.0', /10\.0\.0\.0\/33/],
        ['access_control.rules.1.networks.1', /300\.1\.1\.1/],
        ['access_control.rules.1.networks.2', /"wan".*access_control\.networks/],
        ['access_control.rules.1.networks.4', /10\.0\.0\.0\/8\/8/],
        ['access_control.rules.2.subject', /"admins"/],
        ['access_control.rules.2.subject', /"group:Admins"/],
        ['access_control.rules.2.subject', /"role:x"/],
        ['access_control.rules.2.subject', /"user:"/],
        ['access_control.rules.3', /bypass rule cannot have a subject/],
        ['access_control.rules.4.domain.0', /"\*"/],
        ['access_control.rules.4.domain.1', /app\.\*\.example/],
        ['access_control.rules.4.domain.2', /https:\/\/app/],
        ['access_control.rules.4.domain.3', /home\.example:443/],
        ['access_control.rules.4.domain.4', /\*\.\*\.home/],
        ['access_control.rules.4.domain.5', /"home\.example\."/],
      ];
      for (const [key, text] of expected) {
        expect(
          problems.some((p) => p.startsWith(`${key}:`) && text.test(p)),
          `a problem "${key}: …${text.source}…" in ${JSON.stringify(problems, null, 2)}`,
        ).to.equal(true);
      }
      expect(problems).to.have.length(expected.length);
      expect(problems.some((p) => p.includes('domain.6')), 'a valid domain is not reported').to.equal(false);
    });

    it('the networks of a rule using a valid named list compile cleanly', () => {
      expect(compile({ networks: { lan: ['10.0.0.0/8'] }, rules: [{ domain: 'a.home.example', networks: ['lan', '2001:db8::/32', '192.0.2.1'], policy: 'bypass' }] }).problems).to.deep.equal([]);
    });
  });
});
