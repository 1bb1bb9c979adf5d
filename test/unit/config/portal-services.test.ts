// portal.services, the household's services listed on the portal home: each entry checked
// at start-up (a name, an https URL the access rules can judge, an optional description
// and an icon that is an emoji or short text), every problem reported with its key.

import { expect } from 'chai';
import { ConfigError, validateConfig } from '../../../src/config/load.js';
import { tempDir } from '../../support/harness.js';

function problemsOf(services: unknown): string[] {
  try {
    validateConfig({ data_dir: tempDir(), portal: { services } }, 'test');
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  expect.fail('expected a ConfigError');
}

function expectProblem(problems: string[], key: string, text: RegExp): void {
  expect(
    problems.some((p) => p.startsWith(`${key}:`) && text.test(p)),
    `a problem "${key}: …${text.source}…" in ${JSON.stringify(problems, null, 2)}`,
  ).to.equal(true);
}

describe('portal.services configuration', () => {
  it('defaults to no services', () => {
    expect(validateConfig({ data_dir: tempDir() }, 'test').portal).to.deep.equal({ services: [] });
  });

  it('accepts a name and an https URL, with an optional description and an emoji or short-text icon', () => {
    const services = [
      { name: 'Photos', url: 'https://photos.home.example/', description: 'Family albums', icon: '📷' },
      { name: 'Family', url: 'https://family.home.example/x?y=1', icon: '👨‍👩‍👧' },
      { name: 'NAS', url: 'https://nas.home.example:5001/', icon: 'NAS' },
      { name: 'Dev', url: 'http://localhost:3000/' },
      { name: 'Printer', url: 'http://127.0.0.1:631/' },
    ];
    expect(validateConfig({ data_dir: tempDir(), portal: { services } }, 'test').portal.services).to.deep.equal(services);
  });

  it('refuses an entry without a name, or with an empty one', () => {
    const problems = problemsOf([{ url: 'https://photos.home.example/' }, { name: '  ', url: 'https://tv.home.example/' }]);
    expectProblem(problems, 'portal.services.0.name', /expected a value of type string, got nothing/);
    expectProblem(problems, 'portal.services.1.name', /give the service a name/);
  });

  it('refuses URLs that are not absolute https (plain http only for localhost)', () => {
    const problems = problemsOf([
      { name: 'a', url: 'photos.home.example' },
      { name: 'b', url: 'http://photos.home.example/' },
      { name: 'c', url: 'javascript:alert(1)' },
      { name: 'd', url: '/relative' },
      { name: 'e', url: 'ftp://files.home.example/' },
    ]);
    for (const i of [0, 2, 3, 4]) expectProblem(problems, `portal.services.${i}.url`, /absolute https URL/);
    expectProblem(problems, 'portal.services.1.url', /must use https \(plain http only for localhost\)/);
  });

  it('refuses a URL with credentials, or one the access rules would refuse to judge', () => {
    const problems = problemsOf([
      { name: 'a', url: 'https://home.example@evil.example/' },
      { name: 'b', url: 'https://photos.home.example/a%2Fb' },
    ]);
    expectProblem(problems, 'portal.services.0.url', /must not carry a user name or password/);
    expectProblem(problems, 'portal.services.1.url', /access rules cannot judge this URL/);
  });

  it('refuses remote images, long icons and unknown keys', () => {
    const problems = problemsOf([
      { name: 'a', url: 'https://a.home.example/', icon: 'https://cdn.example/a.png' },
      { name: 'b', url: 'https://b.home.example/', icon: 'Photos and more' },
      { name: 'c', url: 'https://c.home.example/', icon: '\u202eX' },
      { name: 'd', url: 'https://d.home.example/', image: 'x.png' },
    ]);
    for (const i of [0, 1, 2]) expectProblem(problems, `portal.services.${i}.icon`, /an emoji or up to 4 characters/);
    expect(problems.join('\n')).to.match(/portal\.services\.3\.image: unknown key/);
  });

  it('reports the services problems together with others', () => {
    const problems = problemsOf([{ name: 'x' }]);
    expectProblem(problems, 'portal.services.0.url', /nothing/);
    try {
      validateConfig({ data_dir: tempDir(), server: { port: 0 }, portal: { services: 'photos' } }, 'test');
      expect.fail('expected a ConfigError');
    } catch (err) {
      const all = (err as ConfigError).problems.join('\n');
      expect(all).to.match(/server\.port/);
      expect(all).to.match(/portal\.services/);
    }
  });
});
