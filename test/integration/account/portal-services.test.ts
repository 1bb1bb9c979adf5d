// The portal home lists the household's services (portal.services), each only to the members
// the access rules would let in, asked of the same rule engine forward auth uses: with the
// member as subject, GET, the service URL's host and path, and the member's client IP.

import { expect } from 'chai';
import { Browser } from '../../support/browser.js';
import { HTTPS } from '../../support/forward-auth.js';
import { addUser, GOOD_PASSWORD } from '../../support/harness.js';
import { signInWithTotp, userWithTotp, world, type World } from '../auth/second-factor-helpers.js';

const SERVICES = [
  { name: 'Public wiki', url: 'https://public.home.example/', description: 'Open to everyone', icon: '📖' },
  { name: 'Router admin', url: 'https://admin.home.example/', icon: '🛠' },
  { name: 'TV', url: 'https://tv.home.example/' },
  { name: 'NAS', url: 'https://nas.home.example/', icon: 'NAS' },
  { name: 'Vault', url: 'https://vault.home.example/' },
  { name: 'Photos', url: 'https://photos.home.example/' },
  { name: 'Photos settings', url: 'https://photos.home.example/admin' },
  { name: 'Closed', url: 'https://closed.home.example/' },
  { name: 'Elsewhere', url: 'https://other.example/' },
];

const CONFIG = {
  portal_url: 'https://auth.home.example',
  session: { cookie_domain: 'home.example' },
  access_control: {
    default_policy: 'deny',
    networks: { lan: ['192.168.0.0/16'] },
    rules: [
      { domain: 'public.home.example', policy: 'bypass' },
      { domain: 'admin.home.example', subject: ['group:admins'], policy: 'one_factor' },
      { domain: 'tv.home.example', subject: 'group:kids', policy: 'deny' },
      { domain: 'nas.home.example', networks: ['lan'], policy: 'one_factor' },
      { domain: 'nas.home.example', policy: 'deny' },
      { domain: 'vault.home.example', policy: 'two_factor' },
      { domain: 'closed.home.example', policy: 'deny' },
      { domain: 'photos.home.example', resources: ['^/admin([/?]|$)'], subject: 'group:admins', policy: 'one_factor' },
      { domain: '*.home.example', policy: 'one_factor' },
    ],
  },
  portal: { services: SERVICES },
};

/** The service names the home page lists, in order. */
function listed(html: string): string[] {
  return [...html.matchAll(/<span class="service-name">([^<]*)<\/span>/g)].map((m) => m[1] as string);
}

describe('portal home: the household services each member may open', () => {
  let w: World;
  beforeEach(async () => {
    w = await world(CONFIG);
  });
  afterEach(() => w.app.close());

  async function homeOf(username: string, groups: string[], headers: Record<string, string> = {}): Promise<string> {
    await addUser(w.app.ctx, username, { groups });
    const b = new Browser(w.app.url, headers);
    expect((await b.login(username, GOOD_PASSWORD, {}, headers)).location).to.equal('/');
    const home = await b.get('/', headers);
    expect(home.status).to.equal(200);
    return home.text;
  }

  it('a child sees neither the admin-only services nor the ones denied to their group', async () => {
    expect(listed(await homeOf('kim', ['kids']))).to.deep.equal(['Public wiki', 'Photos']);
  });

  it('an administrator sees the admin-only services too; denied and unruled hosts stay hidden from everyone', async () => {
    expect(listed(await homeOf('root', ['admins']))).to.deep.equal(['Public wiki', 'Router admin', 'TV', 'Photos', 'Photos settings']);
  });

  it('a member of no group sees what one_factor and bypass open', async () => {
    expect(listed(await homeOf('lee', []))).to.deep.equal(['Public wiki', 'TV', 'Photos']);
  });

  it('a network rule is judged at the member’s current address (through the trusted proxy)', async () => {
    const LAN = { ...HTTPS, 'x-forwarded-for': '192.168.1.20' };
    expect(listed(await homeOf('lee', [], LAN))).to.include('NAS');
    await w.app.close();
    w = await world(CONFIG);
    const WAN = { ...HTTPS, 'x-forwarded-for': '203.0.113.9' };
    expect(listed(await homeOf('lee', [], WAN))).not.to.include('NAS');
  });

  it('a two_factor service is listed for a member who has a second factor, not for one without', async () => {
    const { secret } = await userWithTotp(w, 'zoe');
    const b = new Browser(w.app.url);
    expect((await signInWithTotp(w, b, 'zoe', secret)).location).to.equal('/');
    expect(listed((await b.get('/')).text)).to.include('Vault');
    expect(listed(await homeOf('lee', []))).not.to.include('Vault');
  });

  it('shows each service as a link with its icon and description, all escaped', async () => {
    await w.app.close();
    w = await world({ ...CONFIG, portal: { services: [{ name: 'Tom & <b>Jerry</b>', url: 'https://public.home.example/?a=1&b=2', description: '<i>fun</i>', icon: '📖' }] } });
    const html = await homeOf('lee', []);
    expect(html).to.contain('href="https://public.home.example/?a=1&amp;b=2"');
    expect(html).to.contain('Tom &amp; &lt;b&gt;Jerry&lt;/b&gt;');
    expect(html).to.contain('&lt;i&gt;fun&lt;/i&gt;');
    expect(html).to.contain('📖');
    expect(html).not.to.contain('<b>Jerry');
  });

  it('without portal.services the home page has no services section; with none open to the member it says so', async () => {
    await w.app.close();
    w = await world({ ...CONFIG, portal: { services: [] } });
    expect(await homeOf('lee', [])).not.to.contain('Your services');
    await w.app.close();
    w = await world({ ...CONFIG, portal: { services: [{ name: 'Closed', url: 'https://closed.home.example/' }] } });
    const html = await homeOf('lee', []);
    expect(html).to.contain('Your services');
    expect(listed(html)).to.deep.equal([]);
    expect(html).to.contain('No services are open to you');
  });
});
