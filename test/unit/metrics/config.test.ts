// The metrics section of the config: off by default with loopback-only networks, and
// every bad entry reported with its key and a fix, alongside other problems.

import { expect } from 'chai';
import { ConfigError, validateConfig } from '../../../src/config/load.js';

function problems(raw: Record<string, unknown>): string[] {
  try {
    validateConfig(raw, 'test');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('metrics config', () => {
  it('is off by default and allows only loopback', () => {
    const config = validateConfig({}, 'test');
    expect(config.metrics).to.deep.equal({ enabled: false, networks: ['127.0.0.0/8', '::1/128'] });
  });

  it('takes CIDRs, addresses and the proxy-addr names', () => {
    const config = validateConfig({ metrics: { enabled: true, networks: ['192.168.1.10', '10.0.0.0/8', 'fd00::/8', 'loopback'] } }, 'test');
    expect(config.metrics.networks).to.have.length(4);
  });

  it('reports a bad network, an empty list and a wrong type together with other problems', () => {
    const found = problems({ server: { port: 0 }, metrics: { enabled: 'yes', networks: ['10.0.0.0/33', 'lan'] } });
    expect(found.some((p) => p.startsWith('server.port:'))).to.equal(true);
    expect(found).to.include('metrics.enabled: expected a value of type boolean, got "yes"');
    expect(found.filter((p) => p.startsWith('metrics.networks.')).map((p) => p.split(':')[0])).to.deep.equal(['metrics.networks.0', 'metrics.networks.1']);
    expect(problems({ metrics: { networks: [] } })[0]).to.match(/^metrics\.networks: list at least one network/);
    expect(problems({ metrics: { path: '/m' } })[0]).to.match(/^metrics\.path: unknown key/);
  });
});
