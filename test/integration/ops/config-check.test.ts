// `gatehouse config check` through the real CLI: the effective config from file and
// environment, secrets redacted, every problem listed with exit 2, nothing written.

import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { parse as parseYaml } from 'yaml';
import { redactConfig } from '../../../src/cli/ops.js';
import { buildOnce, gatehouse } from '../../support/cli.js';
import { tempDir } from '../../support/harness.js';

const GOOD = `
portal_url: https://alice:hunter2hunter2@auth.home.example
server:
  port: 8490
  shutdown_timeout: 5s
session:
  inactivity: 30m
access_control:
  default_policy: deny
  rules:
    - domain: app.home.example
      policy: one_factor
`;

describe('config check (CLI)', function () {
  this.timeout(30_000);
  let dir: string;
  let dataDir: string;
  before(() => {
    buildOnce();
    dir = tempDir('gatehouse-config-');
    // Never created: checking the config must not touch the data dir.
    dataDir = join(dir, 'data-not-created');
    writeFileSync(join(dir, 'good.yml'), GOOD);
    writeFileSync(join(dir, 'bad.yml'), 'server:\n  port: 99999\nsession:\n  inactivity: forever\n  touch_interval: 2h\nbogus: 1\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('prints the effective config of a good file with defaults filled in and the environment applied, secrets redacted', async () => {
    const result = await gatehouse(dataDir, ['config', 'check', '--config', join(dir, 'good.yml')], { env: { GATEHOUSE_HOST: '0.0.0.0' } });
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stderr).to.equal('');
    expect(result.stdout).to.contain(`# file: ${join(dir, 'good.yml')}`).and.contain('GATEHOUSE_HOST');
    const shown = parseYaml(result.stdout) as Record<string, Record<string, unknown>>;
    expect(shown.server?.port).to.equal(8490);
    expect(shown.server?.host).to.equal('0.0.0.0'); // environment over file
    expect(shown.server?.shutdown_timeout).to.equal(5000);
    expect(shown.session?.inactivity).to.equal(1_800_000);
    expect(shown.session?.expiration).to.equal(86_400_000); // a default
    expect(shown.data_dir).to.equal(dataDir);
    expect(result.stdout).not.to.contain('hunter2');
    expect(shown.portal_url).to.equal('https://alice:[redacted]@auth.home.example/');
    expect(existsSync(dataDir)).to.equal(false);
  });

  it('honours GATEHOUSE_CONFIG, and --json prints the same values as JSON', async () => {
    const result = await gatehouse(dataDir, ['config', 'check', '--json'], { env: { GATEHOUSE_CONFIG: join(dir, 'good.yml'), GATEHOUSE_PORT: '9001' } });
    expect(result.code, result.stderr).to.equal(0);
    const shown = JSON.parse(result.stdout) as { server: { port: number }; access_control: { rules: unknown[] } };
    expect(shown.server.port).to.equal(9001);
    expect(shown.access_control.rules).to.have.length(1);
  });

  it('lists every problem of a bad file and exits 2', async () => {
    const result = await gatehouse(dataDir, ['config', 'check', '--config', join(dir, 'bad.yml')]);
    expect(result.code).to.equal(2);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.contain('invalid configuration');
    expect(result.stderr).to.contain('server.port').and.contain('session.inactivity').and.contain('bogus');
    expect(result.stderr).not.to.match(/\n\s+at /); // no stack trace

    const env = await gatehouse(dataDir, ['config', 'check'], { env: { GATEHOUSE_PORT: 'eighty' } });
    expect(env.code).to.equal(2);
    expect(env.stderr).to.contain('server.port');

    const missing = await gatehouse(dataDir, ['config', 'check', '--config', join(dir, 'none.yml')]);
    expect(missing.code).to.equal(2);
    expect(missing.stderr).to.contain('cannot read the file');
    expect(existsSync(dataDir)).to.equal(false);
  });

  it('redacts string values under secret-sounding keys, not settings that merely mention them', () => {
    const shown = redactConfig({
      smtp: { password: 'pw', host: 'mail' },
      oidc: { client_secret: 's', api_key: 'k' },
      setup: { token_lifetime: 3_600_000 },
      password: { argon2: { memory_kib: 19_456 } },
      hooks: [{ token: 't', url: 'https://u:p@h.example/x' }],
    });
    expect(shown).to.deep.equal({
      smtp: { password: '[redacted]', host: 'mail' },
      oidc: { client_secret: '[redacted]', api_key: '[redacted]' },
      setup: { token_lifetime: 3_600_000 },
      password: { argon2: { memory_kib: 19_456 } },
      hooks: [{ token: '[redacted]', url: 'https://u:[redacted]@h.example/x' }],
    });
  });
});
