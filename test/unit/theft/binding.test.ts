// IP binding rules: strict, subnet (/24 and /64), off, and exempt networks.

import { expect } from 'chai';
import { createIpBinding, sameSubnet } from '../../../src/theft/binding.js';

describe('IP binding', () => {
  it('strict allows only the same address (IPv4-mapped IPv6 counts as IPv4)', () => {
    const b = createIpBinding('strict', []);
    expect(b.allows('198.51.100.7', '198.51.100.7')).to.equal(true);
    expect(b.allows('198.51.100.7', '::ffff:198.51.100.7')).to.equal(true);
    expect(b.allows('198.51.100.7', '198.51.100.8')).to.equal(false);
    expect(b.allows('2001:db8::1', '2001:DB8::1')).to.equal(true);
  });

  it('subnet allows the same /24 for IPv4 and the same /64 for IPv6, nothing wider', () => {
    const b = createIpBinding('subnet', []);
    expect(b.allows('198.51.100.7', '198.51.100.200')).to.equal(true);
    expect(b.allows('198.51.100.7', '198.51.101.7')).to.equal(false);
    expect(b.allows('2001:db8:1:2::10', '2001:db8:1:2:a:b:c:d')).to.equal(true);
    expect(b.allows('2001:db8:1:2::10', '2001:db8:1:3::10')).to.equal(false);
    expect(b.allows('198.51.100.7', '2001:db8::1')).to.equal(false);
  });

  it('off allows anything; a session never bound (null) is not judged', () => {
    expect(createIpBinding('off', []).allows('198.51.100.7', '203.0.113.1')).to.equal(true);
    expect(createIpBinding('strict', []).allows(null, '203.0.113.1')).to.equal(true);
  });

  it('lets a session roam inside the exempt networks, including a v4/v6 flip, but not out of them', () => {
    const b = createIpBinding('strict', ['192.168.0.0/16', 'fd00::/8']);
    expect(b.allows('192.168.1.20', '192.168.7.3')).to.equal(true);
    expect(b.allows('192.168.1.20', 'fd00::1234')).to.equal(true);
    expect(b.allows('192.168.1.20', '203.0.113.9')).to.equal(false);
    expect(b.allows('203.0.113.9', '192.168.1.20')).to.equal(false);
  });

  it('compares subnets by parsed address, not by text', () => {
    expect(sameSubnet('2001:db8:0:0::1', '2001:0db8::ffff')).to.equal(true);
    expect(sameSubnet('10.0.0.1', 'not-an-ip')).to.equal(false);
  });
});
