// `gatehouse access check` as the real command (bin/gatehouse.js in a child process): a URL
// the forward-auth endpoints refuse is explained as that 400 with its reason, and an
// accepted one shows the canonical path the rules match.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'chai';
import { buildOnce, gatehouse, initDataDir } from '../support/cli.js';
import { tempDir } from '../support/harness.js';

const CONFIG = `
portal_url: https://auth.home.example
session:
  cookie_domain: home.example
access_control:
  default_policy: deny
  rules:
    - { domain: app.home.example, resources: ["^/public/"], policy: bypass }
    - { domain: app.home.example, resources: ["^/admin([/?]|$)"], policy: deny }
    - { domain: "*.home.example", policy: one_factor }
`;

describe('gatehouse access check (real command)', function () {
  this.timeout(20_000);

  before(function () {
    this.timeout(180_000);
    buildOnce();
  });

  let dir: string;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = tempDir('gatehouse-cli-access-');
    const file = join(dir, 'gatehouse.yml');
    writeFileSync(file, CONFIG);
    env = { GATEHOUSE_CONFIG: file };
    initDataDir(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('explains a URL whose path depends on who decodes it as the 400 the endpoints answer', async () => {
    const res = await gatehouse(dir, ['access', 'check', 'https://app.home.example/public/..%2fadmin'], { env });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.match(/^request: +GET https:\/\/app\.home\.example\/public\/\.\.%2fadmin$/m);
    expect(res.stdout).to.match(/^rule: +none: refused before any rule is checked$/m);
    expect(res.stdout).to.match(/^answer: +400 bad request \(\/auth\/verify and \/auth\/forward\): The original path contains an encoded "\/" \(%2F\)/m);
    expect(res.stdout).not.to.match(/bypass/);
  });

  it('explains ";"-suffixed and encoded dot segments the same way', async () => {
    for (const url of ['https://app.home.example/public/..;/admin', 'https://app.home.example/public/%2e%2e/admin']) {
      const res = await gatehouse(dir, ['access', 'check', url], { env });
      expect(res.code, res.stderr).to.equal(0);
      expect(res.stdout, url).to.match(/^answer: +400 bad request .*dot segment/m);
    }
  });

  it('shows the canonical path, matched without case, for a URL it accepts', async () => {
    const res = await gatehouse(dir, ['access', 'check', 'https://app.home.example/public/../ADMIN'], { env });
    expect(res.code, res.stderr).to.equal(0);
    expect(res.stdout).to.match(/^path: +\/ADMIN /m);
    expect(res.stdout).to.match(/^rule: +#1 /m);
    expect(res.stdout).to.match(/^answer: +403 forbidden$/m);
  });
});
