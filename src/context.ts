// The application context: config, database, clock, logger and the domain services built
// on them. The server, the CLI and the tests all build it the same way.

import { compileAccessControl, type AccessControl } from './access/rules.js';
import type { Audit as AuditType } from './audit/events.js';
import { Audit } from './audit/events.js';
import { AuditLog } from './audit/query.js';
import { PasswordHasher } from './passwords/hasher.js';
import { SetupTokens } from './auth/setup.js';
import type { Config } from './config/schema.js';
import { loadOrCreateSecrets, type Secrets } from './config/secrets.js';
import { ExternalChanges } from './db/change-watcher.js';
import { databasePath, openDatabase, type Db } from './db/connection.js';
import { migrate } from './db/migrate.js';
import { systemClock, type Clock } from './lib/clock.js';
import { silentLogger, type Logger } from './lib/log.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { sessionPolicy } from './sessions/policy.js';
import { ExpressSessionStore } from './sessions/express-store.js';
import { Sessions } from './sessions/sessions.js';
import { SqliteSessionEngine } from './sessions/sqlite.js';
import { createSessionGuard, type SessionGuard } from './theft/guard.js';
import { HashGate } from './throttle/hash-gate.js';
import { ApiTokens } from './tokens/api-tokens.js';
import { LoginRegulator } from './throttle/regulator.js';
import { StrengthBudget } from './throttle/strength-budget.js';
import { TwoFactor } from './twofactor/two-factor.js';
import { Accounts } from './users/accounts.js';
import { UserRepository } from './users/repository.js';

export interface AppContext {
  config: Config;
  /** Access rules compiled once from config. */
  access: AccessControl;
  db: Db;
  clock: Clock;
  log: Logger;
  secrets: Secrets;
  audit: AuditType;
  /** The sessions domain: cache, rules and named operations over the engine. */
  sessions: Sessions;
  /** express-session's Store over `sessions` (src/http/session.ts). */
  sessionStore: ExpressSessionStore;
  users: UserRepository;
  accounts: Accounts;
  hasher: PasswordHasher;
  /** Caps concurrent argon2 runs (every hash and verification goes through it). */
  hashGate: HashGate;
  /** The login regulator: failure counters, backoff and bans, asked before any hashing. */
  regulator: LoginRegulator;
  /** Password strength estimates per user (or setup visitor) a minute, whatever path causes them. */
  strengthBudget: StrengthBudget;
  setup: SetupTokens;
  /** Personal API tokens (bearer credentials for /api/v1 and forward auth). */
  tokens: ApiTokens;
  /** Second factors: TOTP authenticators, recovery codes, their per-user attempt limit. */
  twoFactor: TwoFactor;
  /** Reading the audit log (filters, pages, CSV). */
  auditLog: AuditLog;
  /** The theft check (IP binding) every session use goes through. */
  guard: SessionGuard;
  /** Prometheus counters and gauges (src/metrics); served by GET /metrics when enabled. */
  metrics: Metrics;
  /** Flushes pending session touches, checkpoints the WAL and closes the database. */
  close(): void;
}

export interface ContextOptions {
  clock?: Clock;
  /** How often (at most) to look for writes by other processes; tests use 0 (every read). */
  changePollMs?: number;
  log?: Logger;
  /** Replace express-session's Store (tests use a subclass to force request interleavings). */
  sessionStore?: (sessions: Sessions) => ExpressSessionStore;
  /** Open only an existing database, never create one (the CLI; only the server creates it). */
  existingDatabase?: boolean;
}

export function createContext(config: Config, options: ContextOptions = {}): AppContext {
  const clock = options.clock ?? systemClock;
  const { control: access, problems } = compileAccessControl(config.access_control);
  // validateConfig already reported these; a hand-built config must not slip past them.
  if (problems.length) throw new Error(`invalid access_control: ${problems.join('; ')}`);
  const log = options.log ?? silentLogger();
  const secrets = loadOrCreateSecrets(config.data_dir);
  const db = openDatabase(databasePath(config.data_dir), { mustExist: options.existingDatabase === true });
  try {
    migrate(db);
  } catch (err) {
    db.close();
    throw err;
  }
  const audit = new Audit(db, clock, { coalesceWindowMs: config.audit.coalesce_window });
  // One watcher for writes by other processes, shared by the session and user caches.
  const changes = new ExternalChanges(db, options.changePollMs);
  const sessions = new Sessions(new SqliteSessionEngine(db), clock, sessionPolicy(config), audit, changes);
  const sessionStore = options.sessionStore ? options.sessionStore(sessions) : new ExpressSessionStore(sessions);
  const users = new UserRepository(db, changes);
  const { memory_kib, iterations, parallelism } = config.password.argon2;
  const hashGate = new HashGate(config.throttle.max_concurrent_hashes, config.throttle.max_queued_hashes);
  const hasher = new PasswordHasher({ memoryKib: memory_kib, iterations, parallelism }, hashGate);
  const regulator = new LoginRegulator(db, clock, audit, config.throttle);
  const strengthBudget = new StrengthBudget(db, clock);
  const auditLog = new AuditLog(db);
  const tokens = new ApiTokens(db, clock, audit, changes);
  const twoFactor = new TwoFactor(db, clock, audit, sessions, secrets.twoFactorKey, config.throttle, totpIssuer(config));
  const accounts = new Accounts(db, users, hasher, sessions, audit, clock, auditLog, tokens);
  const setup = new SetupTokens(db, clock, config.setup.token_lifetime);
  let closed = false;
  const guard = createSessionGuard(config.session, { sessions, audit, log, users });
  const metrics = createMetrics(config, db, clock, sessions);
  return {
    guard,
    metrics,
    config,
    access,
    db,
    clock,
    log,
    secrets,
    audit,
    sessions,
    sessionStore,
    users,
    accounts,
    hasher,
    hashGate,
    regulator,
    strengthBudget,
    setup,
    tokens,
    twoFactor,
    auditLog,
    close() {
      if (closed || !db.open) return;
      closed = true;
      sessions.close();
      db.pragma('wal_checkpoint(TRUNCATE)');
      db.close();
    },
  };
}

/** The name authenticator apps show next to the code: "gatehouse", with the portal's host when known. */
function totpIssuer(config: Config): string {
  return config.portal_url ? `gatehouse (${new URL(config.portal_url).hostname})` : 'gatehouse';
}
