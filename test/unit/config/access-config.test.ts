// The forward-auth parts of the configuration: access_control problems reported together
// with every other problem, and the portal_url checks (required with rules, https except
// on localhost, inside the cookie domain, no path).

import { expect } from 'chai';
import { ConfigError, validateConfig } from '../../../src/config/load.js';
import { EXAMPLE_ACCESS_CONTROL } from '../../support/forward-auth.js';

function configError(raw: Record<string, unknown>): ConfigError {
  try {
    validateConfig(raw, 'test');
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

function expectProblems(err: ConfigError, expected: Array<[key: string, text: RegExp]>): void {
  for (const [key, text] of expected) {
    expect(
      err.problems.some((p) => p.startsWith(`${key}:`) && text.test(p)),
      `a problem "${key}: …${text.source}…" in ${JSON.stringify(err.problems, null, 2)}`,
    ).to.equal(true);
  }
}

const RULES = EXAMPLE_ACCESS_CONTROL;

const VALID = { portal_url: 'https://auth.home.example', session: { cookie_domain: 'home.example' }, access_control: RULES };

describe('access control and portal configuration', () => {
  it('accepts the issue example', () => {
    const config = validateConfig(VALID, 'test');
    expect(config.portal_url).to.equal('https://auth.home.example');
    expect(config.access_control.rules).to.have.length(4);
    // One domain or a list; one subject or a list: both come out as lists.
    expect(config.access_control.rules[0]?.domain).to.deep.equal(['public.home.example']);
    expect(config.access_control.rules[1]?.subject).to.deep.equal(['group:admins']);
  });

  it('defaults to no rules and default_policy deny, and then needs no portal_url', () => {
    const config = validateConfig({}, 'test');
    expect(config.access_control).to.deep.equal({ default_policy: 'deny', networks: {}, rules: [] });
    expect(config.portal_url).to.equal(undefined);
  });

  it('reports access_control compile problems together with problems elsewhere', () => {
    const err = configError({
      ...VALID,
      server: { port: 'eighty' },
      session: { cookie_domain: 'home.example', inactivity: '10m', touch_interval: '9m' },
      access_control: {
        networks: { lan: ['192.168.0.0/33'] },
        rules: [
          { domain: 'app.home.example', resources: ['('], policy: 'one_factor' },
          { domain: 'app.home.example', networks: ['wan'], subject: 'admins', policy: 'one_factor' },
          { domain: 'public.home.example', subject: 'group:x', policy: 'bypass' },
        ],
      },
    });
    expectProblems(err, [
      ['server.port', /number/],
      ['session.touch_interval', /half of session\.inactivity/],
      ['access_control.networks.lan.0', /CIDR/],
      ['access_control.rules.0.resources.0', /regular expression/],
      ['access_control.rules.1.networks.0', /"wan"/],
      ['access_control.rules.1.subject', /"admins"/],
      ['access_control.rules.2', /bypass rule cannot have a subject/],
    ]);
    expect(err.problems).to.have.length(7);
  });

  it('reports schema problems inside access_control (policy, method, network name) with their keys', () => {
    const err = configError({
      ...VALID,
      access_control: {
        default_policy: 'allow',
        networks: { 'LAN!': ['10.0.0.0/8'] },
        rules: [{ domain: 'app.home.example', methods: ['G E T'], policy: 'two-factor', color: 'red' }, { policy: 'deny' }],
      },
    });
    expectProblems(err, [
      ['access_control.default_policy', /bypass, one_factor, two_factor, deny/],
      // The next two only name the key ("Invalid key in record", "Invalid input"): enough to find the line.
      ['access_control.networks.LAN!', /./],
      ['access_control.rules.0.methods.0', /HTTP method/],
      ['access_control.rules.0.policy', /bypass, one_factor, two_factor, deny/],
      ['access_control.rules.0.color', /unknown key/],
      ['access_control.rules.1.domain', /./],
    ]);
  });

  it('still compiles the rules when another section is invalid, so their problems are not hidden', () => {
    const err = configError({ ...VALID, log: { level: 'loud' }, access_control: { rules: [{ domain: '*', policy: 'deny' }] } });
    expectProblems(err, [
      ['log.level', /one of/],
      ['access_control.rules.0.domain.0', /host name/],
    ]);
  });

  describe('portal_url', () => {
    it('is required when access_control.rules are set', () => {
      const err = configError({ session: { cookie_domain: 'home.example' }, access_control: RULES });
      expectProblems(err, [['portal_url', /required when access_control\.rules are set/]]);
      expect(err.problems).to.have.length(1);
    });

    it('is not required without rules (default policy only)', () => {
      expect(() => validateConfig({ access_control: { default_policy: 'one_factor' } }, 'test')).not.to.throw();
    });

    it('must use https', () => {
      const err = configError({ ...VALID, portal_url: 'http://auth.home.example' });
      expectProblems(err, [['portal_url', /must use https/]]);
      expect(err.problems).to.have.length(1);
    });

    it('may use plain http on localhost and loopback addresses', () => {
      for (const portal_url of ['http://localhost:8480', 'http://127.0.0.1:8480', 'http://[::1]:8480']) {
        expect(() => validateConfig({ portal_url, access_control: RULES }, 'test'), portal_url).not.to.throw();
      }
    });

    it('must be an http(s) URL at all', () => {
      for (const portal_url of ['auth.home.example', 'ftp://auth.home.example', 'javascript:alert(1)', '']) {
        expectProblems(configError({ ...VALID, portal_url }), [['portal_url', /absolute http\(s\) URL/]]);
      }
    });

    it('must sit on the cookie domain or a subdomain of it', () => {
      for (const portal_url of ['https://auth.other.example', 'https://xhome.example', 'https://home.example.evil.com', 'https://auth.home.example.evil.com']) {
        expectProblems(configError({ ...VALID, portal_url }), [['portal_url', /must be home\.example or a subdomain of it/]]);
      }
      expect(() => validateConfig({ ...VALID, portal_url: 'https://home.example' }, 'test')).not.to.throw();
      expect(() => validateConfig({ ...VALID, portal_url: 'https://a.b.home.example:8443' }, 'test')).not.to.throw();
    });

    it('accepts any host when no cookie domain is set', () => {
      expect(() => validateConfig({ portal_url: 'https://auth.other.example', access_control: RULES }, 'test')).not.to.throw();
    });

    it('must not carry a path, query or fragment (a trailing slash is fine)', () => {
      for (const portal_url of ['https://auth.home.example/gatehouse', 'https://auth.home.example/login', 'https://auth.home.example/?x=1', 'https://auth.home.example/#top']) {
        expectProblems(configError({ ...VALID, portal_url }), [['portal_url', /only scheme, host and port/]]);
      }
      expect(() => validateConfig({ ...VALID, portal_url: 'https://auth.home.example/' }, 'test')).not.to.throw();
    });

    it('reports every portal problem at once', () => {
      const err = configError({ ...VALID, portal_url: 'http://auth.other.example/sub' });
      expectProblems(err, [
        ['portal_url', /must use https/],
        ['portal_url', /only scheme, host and port/],
        ['portal_url', /subdomain of it/],
      ]);
      expect(err.problems).to.have.length(3);
    });

    it('is checked even when another part of the config is invalid', () => {
      const err = configError({ ...VALID, portal_url: 'http://auth.other.example', server: { port: 0 } });
      expectProblems(err, [
        ['server.port', /./],
        ['portal_url', /must use https/],
        ['portal_url', /subdomain of it/],
      ]);
    });

    it('is still required with rules when another part of the config is invalid', () => {
      const err = configError({ access_control: RULES, server: { port: 0 } });
      expectProblems(err, [
        ['server.port', /./],
        ['portal_url', /required/],
      ]);
    });
  });
});
