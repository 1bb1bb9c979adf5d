// Loading the configuration: YAML file (GATEHOUSE_CONFIG), then environment overrides,
// then one validation pass that reports every problem with its key and a fix.

import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { readOriginalUrl } from '../access/original-request.js';
import { compileAccessControl } from '../access/rules.js';
import { isLoopbackHost } from '../theft/client-ip.js';
import { accessControlSection, configSchema, portalService, sessionProblems, sessionSection, throttleProblems, type Config } from './schema.js';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** A config file path; overrides GATEHOUSE_CONFIG. */
  file?: string;
  /** Extra values applied over file and environment (used by tests and the CLI). */
  overrides?: Record<string, unknown>;
}

const ENV_KEYS: Array<[string, string[]]> = [
  ['GATEHOUSE_HOST', ['server', 'host']],
  ['GATEHOUSE_PORT', ['server', 'port']],
  ['GATEHOUSE_DATA_DIR', ['data_dir']],
  ['GATEHOUSE_LOG_LEVEL', ['log', 'level']],
];

export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.GATEHOUSE_CONFIG;
  const source = file ? resolve(file) : 'built-in defaults';
  const raw = file ? readConfigFile(file) : {};
  for (const [name, path] of ENV_KEYS) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    // Numeric environment values become numbers; anything else is left for the schema to reject.
    setPath(raw, path, name === 'GATEHOUSE_PORT' && /^\d+$/.test(value.trim()) ? Number(value) : value);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) setPath(raw, key.split('.'), value);
  return validateConfig(raw, file ? `${source} + environment` : 'defaults + environment');
}

/**
 * How `data_dir` was chosen, for messages about it: GATEHOUSE_DATA_DIR, `data_dir` in the
 * config file, or the default; a relative value is resolved against the current directory.
 * Call it after loadConfig succeeded (the file is then known to be readable YAML).
 */
export function dataDirSource(options: LoadOptions = {}): string {
  const env = options.env ?? process.env;
  const file = options.file ?? env.GATEHOUSE_CONFIG;
  const fromFile = file ? readConfigFile(file).data_dir : undefined;
  let value: unknown;
  let how: string;
  if (options.overrides && Object.hasOwn(options.overrides, 'data_dir')) {
    value = options.overrides.data_dir;
    how = `data_dir set by the caller (${String(value)})`;
  } else if (env.GATEHOUSE_DATA_DIR !== undefined && env.GATEHOUSE_DATA_DIR !== '') {
    value = env.GATEHOUSE_DATA_DIR;
    how = `the environment: GATEHOUSE_DATA_DIR=${env.GATEHOUSE_DATA_DIR}`;
  } else if (file && typeof fromFile === 'string') {
    value = fromFile;
    how = `the config file: data_dir: ${fromFile} in ${resolve(file)}`;
  } else {
    value = './data';
    how = `the default ./data (${file ? `${resolve(file)} sets no data_dir` : 'no config file'}, no GATEHOUSE_DATA_DIR)`;
  }
  return typeof value === 'string' && !isAbsolute(value) ? `${how}, relative to the current directory ${process.cwd()}` : how;
}

export function validateConfig(raw: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(raw, { reportInput: true });
  const problems = result.success ? [] : describeIssues(result.error.issues);
  // Cross-field checks run on every section that is valid by itself, so a bad port does
  // not hide a bad timeout combination or a missing portal URL.
  const top = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const session = result.success ? result.data.session : sessionSection.safeParse(top.session).data;
  if (session) problems.push(...sessionProblems(session).map(([key, message]) => `session.${key}: ${message}`));
  const throttle = result.success ? result.data.throttle : configSchema.shape.throttle.safeParse(top.throttle).data;
  if (throttle) problems.push(...throttleProblems(throttle).map(([key, message]) => `throttle.${key}: ${message}`));
  const access = result.success ? result.data.access_control : accessControlSection.safeParse(top.access_control).data;
  if (access) problems.push(...compileAccessControl(access).problems);
  const portal = result.success ? { success: true as const, data: result.data.portal_url } : configSchema.shape.portal_url.safeParse(top.portal_url);
  if (session && access && portal.success) problems.push(...portalProblems({ portal_url: portal.data, session, access_control: access }));
  // Entry by entry, so one bad service does not hide another's URL problem.
  const services = (top.portal as { services?: unknown } | undefined)?.services;
  if (Array.isArray(services)) problems.push(...serviceProblems(services));
  if (!result.success || problems.length) throw new ConfigError(source, problems);
  const config = result.data;
  return { ...config, data_dir: resolve(config.data_dir) };
}

/** The portal URL must exist when rules send people to it, and sit inside the cookie domain. */
function portalProblems(config: Pick<Config, 'portal_url' | 'session' | 'access_control'>): string[] {
  const problems: string[] = [];
  const domain = config.session.cookie_domain;
  if (!config.portal_url) {
    if (config.access_control.rules.length) problems.push('portal_url: required when access_control.rules are set; it is where proxies send people to sign in, e.g. "https://auth.home.example"');
    return problems;
  }
  const url = new URL(config.portal_url);
  if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) problems.push('portal_url: must use https (plain http only for localhost)');
  if (url.pathname !== '/' || url.search || url.hash) problems.push('portal_url: give only scheme, host and port, e.g. "https://auth.home.example"');
  if (domain && url.hostname !== domain && !url.hostname.endsWith(`.${domain}`)) {
    problems.push(`portal_url: its host ${url.hostname} must be ${domain} or a subdomain of it (session.cookie_domain), or the cookie cannot reach it`);
  }
  return problems;
}

/**
 * Each service's URL as the portal home will judge it: https (plain http only for
 * localhost), no credentials (a link such as https://home.example@evil.example misleads),
 * and a path the access rules accept (the home page asks them who may see it).
 */
function serviceProblems(services: unknown[]): string[] {
  const problems: string[] = [];
  services.forEach((raw, i) => {
    const parsed = portalService.safeParse(raw);
    if (!parsed.success) return; // reported by the schema
    const service = parsed.data;
    const key = `portal.services.${i}.url`;
    const url = new URL(service.url);
    if (url.protocol !== 'https:' && !isLoopbackHost(url.hostname)) problems.push(`${key}: must use https (plain http only for localhost)`);
    if (url.username || url.password) {
      problems.push(`${key}: must not carry a user name or password`);
      return;
    }
    const judged = readOriginalUrl(service.url, 'GET');
    if (!judged.ok) problems.push(`${key}: the access rules cannot judge this URL (${judged.message.replace('X-Original-URL', 'the URL')})`);
  });
  return problems;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [`cannot read the file (${code ?? 'error'}); check GATEHOUSE_CONFIG or --config`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 50 });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError(file, [`not valid YAML${where}: ${(err as Error).message.split('\n')[0]}`]);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(file, ['the top level must be a mapping of keys (e.g. "server:")']);
  return doc as Record<string, unknown>;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function describeIssues(issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const key = issue.path.length ? issue.path.join('.') : '(top level)';
    if (issue.code === 'unrecognized_keys') {
      const prefix = issue.path.length ? `${key}.` : '';
      return `${issue.keys.map((k) => prefix + k).join(', ')}: unknown key; check the spelling against the README's config reference`;
    }
    if (issue.code === 'invalid_type') {
      const got = issue.input === undefined ? 'nothing' : JSON.stringify(issue.input)?.slice(0, 60);
      return `${key}: expected ${issue.expected === 'number' ? 'a number' : `a value of type ${issue.expected}`}, got ${got}`;
    }
    if (issue.code === 'invalid_value' && 'values' in issue) return `${key}: must be one of ${issue.values.map(String).join(', ')}`;
    return `${key}: ${issue.message}`;
  });
}
