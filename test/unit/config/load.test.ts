// Configuration loading: built-in defaults, YAML file, environment overrides, and one
// validation pass that reports every problem with its key.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig, validateConfig } from '../../../src/config/load.js';
import { tempDir } from '../../support/harness.js';

/** Runs `work`, expecting a ConfigError; returns it for inspection. */
function configError(work: () => unknown): ConfigError {
  try {
    work();
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail('expected a ConfigError');
}

/** The one problem naming `key` (problems start with the key they are about). */
function problemAbout(err: ConfigError, key: string): string {
  const found = err.problems.filter((p) => p.startsWith(`${key}:`) || p.split(':')[0]?.split(', ').includes(key));
  expect(found, `problems about ${key} in ${JSON.stringify(err.problems)}`).to.have.length(1);
  return found[0] as string;
}

describe('config loading', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('gatehouse-config-');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function yamlFile(text: string, name = 'gatehouse.yml'): string {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  }

  describe('defaults', () => {
    it('listens on 127.0.0.1:8480 and keeps data in ./data, resolved to an absolute path', () => {
      const config = loadConfig({ env: {} });
      expect(config.server).to.include({ host: '127.0.0.1', port: 8480, allow_insecure_http: false });
      expect(config.data_dir).to.equal(resolve('./data'));
    });

    it('uses the documented session and password defaults', () => {
      const config = loadConfig({ env: {} });
      expect(config.session).to.include({
        name: 'gatehouse',
        inactivity: 3_600_000,
        expiration: 86_400_000,
        remember_me: 30 * 86_400_000,
        touch_interval: 60_000,
      });
      expect(config.password.argon2).to.deep.equal({ memory_kib: 19_456, iterations: 2, parallelism: 1 });
      expect(config.server.trusted_proxies).to.deep.equal(['loopback']);
    });

    it('treats an empty YAML file as all defaults', () => {
      const config = loadConfig({ env: {}, file: yamlFile('') });
      expect(config.server.port).to.equal(8480);
    });
  });

  describe('file and environment', () => {
    it('reads the YAML file named by GATEHOUSE_CONFIG', () => {
      const file = yamlFile('server:\n  host: 0.0.0.0\n  port: 9000\nsession:\n  inactivity: 30m\n');
      const config = loadConfig({ env: { GATEHOUSE_CONFIG: file } });
      expect(config.server).to.include({ host: '0.0.0.0', port: 9000 });
      expect(config.session.inactivity).to.equal(30 * 60_000);
    });

    it('lets GATEHOUSE_HOST, GATEHOUSE_PORT and GATEHOUSE_DATA_DIR override the file', () => {
      const file = yamlFile('data_dir: /var/lib/from-file\nserver:\n  host: 0.0.0.0\n  port: 9000\n');
      const config = loadConfig({
        file,
        env: { GATEHOUSE_HOST: '192.168.1.2', GATEHOUSE_PORT: '8999', GATEHOUSE_DATA_DIR: join(dir, 'from-env') },
      });
      expect(config.server).to.include({ host: '192.168.1.2', port: 8999 });
      expect(config.data_dir).to.equal(join(dir, 'from-env'));
    });

    it('ignores empty environment variables', () => {
      const file = yamlFile('server:\n  host: 10.1.1.1\n  port: 9000\n');
      const config = loadConfig({ file, env: { GATEHOUSE_HOST: '', GATEHOUSE_PORT: '' } });
      expect(config.server).to.include({ host: '10.1.1.1', port: 9000 });
    });

    it('resolves a relative data_dir to an absolute path', () => {
      const config = loadConfig({ env: { GATEHOUSE_DATA_DIR: 'relative/data' } });
      expect(config.data_dir).to.equal(resolve('relative/data'));
    });

    it('refuses a GATEHOUSE_PORT that is not a port number, naming server.port', () => {
      for (const port of ['http', '0', '70000', '80.5']) {
        const err = configError(() => loadConfig({ env: { GATEHOUSE_PORT: port } }));
        expect(problemAbout(err, 'server.port'), port).to.be.a('string');
      }
    });
  });

  describe('reporting problems', () => {
    it('reports several problems together in one ConfigError, each naming its key', () => {
      const file = yamlFile(
        [
          'server:',
          '  port: 70000',
          '  trusted_proxies: ["10.0.0.0/33"]',
          'log:',
          '  level: loud',
          'session:',
          '  inactivity: soon',
          '  cache_size: lots',
          '  cookie_domain: .Example.com',
        ].join('\n'),
      );
      const err = configError(() => loadConfig({ file, env: {} }));
      for (const key of ['server.port', 'server.trusted_proxies.0', 'log.level', 'session.inactivity', 'session.cache_size', 'session.cookie_domain']) {
        problemAbout(err, key);
      }
      expect(err.problems).to.have.length(6);
      expect(err.message).to.include(file).and.include('session.inactivity');
      expect(problemAbout(err, 'log.level')).to.include('info');
      expect(problemAbout(err, 'session.cache_size')).to.include('"lots"');
    });

    it('reports a conflict between session limits even when another section is invalid', () => {
      const file = yamlFile(['server:', '  port: x', 'session:', '  inactivity: 1h', '  expiration: 10m'].join('\n'));
      const err = configError(() => loadConfig({ file, env: {} }));
      problemAbout(err, 'server.port');
      expect(problemAbout(err, 'session.expiration')).to.include('shorter than session.inactivity');
    });

    it('reports unknown keys at the top level and nested, with their full path', () => {
      const err = configError(() => validateConfig({ sesion: {}, server: { hots: 'x' }, session: { idle: '1h' } }));
      problemAbout(err, 'sesion');
      problemAbout(err, 'server.hots');
      problemAbout(err, 'session.idle');
      for (const p of err.problems) expect(p).to.include('unknown key');
    });

    it('reports malformed YAML with its line', () => {
      const file = yamlFile('server:\n  host: 127.0.0.1\n  port: [8480\nlog:\n');
      const err = configError(() => loadConfig({ file, env: {} }));
      expect(err.problems).to.have.length(1);
      expect(err.problems[0]).to.match(/^not valid YAML at line \d+/);
    });

    it('refuses a YAML document whose top level is not a mapping', () => {
      const err = configError(() => loadConfig({ file: yamlFile('- server\n- log\n'), env: {} }));
      expect(err.problems[0]).to.include('top level must be a mapping');
    });

    it('refuses a YAML alias bomb instead of expanding it', () => {
      const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
      for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
      const err = configError(() => loadConfig({ file: yamlFile(lines.join('\n')), env: {} }));
      expect(err.problems[0]).to.match(/^not valid YAML/);
    });

    it('reports a config file that cannot be read, with the reason', () => {
      const missing = configError(() => loadConfig({ file: join(dir, 'nope.yml'), env: {} }));
      expect(missing.problems[0]).to.include('cannot read the file (ENOENT)');
      mkdirSync(join(dir, 'a-directory'));
      const directory = configError(() => loadConfig({ file: join(dir, 'a-directory'), env: {} }));
      expect(directory.problems[0]).to.include('cannot read the file (EISDIR)');
    });

    it('accepts durations with units or as plain seconds, and refuses malformed ones', () => {
      const ok = validateConfig({ session: { inactivity: '1h30m', expiration: 86_400, touch_interval: '90s' } });
      expect(ok.session).to.include({ inactivity: 5_400_000, expiration: 86_400_000, touch_interval: 90_000 });
      for (const bad of ['soon', '1 hour', '10x', '-5m', '', '1h 30m', -1]) {
        const err = configError(() => validateConfig({ session: { retention: bad } }));
        expect(problemAbout(err, 'session.retention'), String(bad)).to.include('not a duration');
      }
    });

    it('refuses argon2 parameters below the OWASP minimum', () => {
      const err = configError(() => validateConfig({ password: { argon2: { memory_kib: 1024, iterations: 1, parallelism: 0 } } }));
      expect(problemAbout(err, 'password.argon2.memory_kib')).to.include('19456');
      expect(problemAbout(err, 'password.argon2.iterations')).to.include('at least 2');
      problemAbout(err, 'password.argon2.parallelism');
    });

    it('checks the session limits against each other and reports every conflict', () => {
      const err = configError(() => validateConfig({ session: { inactivity: '2m', expiration: '90s', touch_interval: '1h', remember_me: '1m' } }));
      expect(problemAbout(err, 'session.expiration')).to.include('session.inactivity');
      expect(problemAbout(err, 'session.touch_interval')).to.include('half of session.inactivity');
      expect(problemAbout(err, 'session.remember_me')).to.include('at least session.expiration');
    });

    it('bounds every duration, so no timer overflows and no expiry is out of range', () => {
      const err = configError(() =>
        validateConfig({
          server: { shutdown_timeout: '0s' },
          session: { inactivity: '30s', touch_interval: '0s', sweep_interval: '30d', expiration: '20000000000w' },
        }),
      );
      expect(problemAbout(err, 'session.inactivity')).to.include('between 1m and 365d');
      expect(problemAbout(err, 'session.touch_interval')).to.include('between 1s and 1d');
      expect(problemAbout(err, 'session.sweep_interval')).to.include('between 1s and 1d');
      expect(problemAbout(err, 'session.expiration')).to.include('between 1m and 365d');
      expect(problemAbout(err, 'server.shutdown_timeout')).to.include('between 1s');
    });

    it('keeps audit entries 400 days by default, coalesces refusals per minute, and checks both', () => {
      expect(loadConfig({ env: {} }).audit).to.deep.equal({ retention: 400 * 86_400_000, coalesce_window: 60_000 });
      expect(validateConfig({ audit: { retention: '90d', coalesce_window: 0 } }).audit).to.deep.equal({ retention: 90 * 86_400_000, coalesce_window: 0 });
      const err = configError(() => validateConfig({ audit: { retention: 'forever', coalesce_window: '2h' } }));
      expect(problemAbout(err, 'audit.retention')).to.include('not a duration').and.include('400d');
      expect(problemAbout(err, 'audit.coalesce_window')).to.include('between 0ms and 1h');
      expect(problemAbout(configError(() => validateConfig({ audit: { retention: '1h' } })), 'audit.retention')).to.include('between 1d and 3650d');
      expect(problemAbout(configError(() => validateConfig({ audit: { keep: '1d' } })), 'audit.keep')).to.include('unknown key');
    });

    it('refuses a throttle.ban_max shorter than throttle.ban, also when another section is invalid', () => {
      const err = configError(() => validateConfig({ server: { port: 0 }, throttle: { ban: '1h', ban_max: '30m' } }));
      expect(problemAbout(err, 'throttle.ban_max')).to.include('throttle.ban');
      expect(problemAbout(err, 'server.port')).to.be.a('string');
      expect(validateConfig({ throttle: { ban: '1h', ban_max: '1h' } }).throttle).to.include({ ban: 3_600_000, ban_max: 3_600_000 });
    });

    it('refuses a remember_me shorter than the absolute expiration, and accepts 0 (off)', () => {
      const err = configError(() => validateConfig({ session: { expiration: '24h', remember_me: '12h' } }));
      expect(problemAbout(err, 'session.remember_me')).to.include('session.expiration');
      expect(validateConfig({ session: { remember_me: 0 } }).session.remember_me).to.equal(0);
    });

    it('accepts the documented proxy names, IPs and CIDRs as trusted proxies', () => {
      const config = validateConfig({ server: { trusted_proxies: ['loopback', 'uniquelocal', '10.0.0.0/8', 'fd00::/8', '192.168.1.1'] } });
      expect(config.server.trusted_proxies).to.have.length(5);
    });
  });
});
