// The `gatehouse` command: serve, users, sessions, bans, the setup link, backup/restore and
// checks, with the same config and data dir as the server. Exit codes: 0 ok, 1 failed, 2 usage
// or configuration error.

import { Command, CommanderError } from 'commander';
import { ConfigError, dataDirSource, loadConfig } from '../config/load.js';
import { createContext, type AppContext } from '../context.js';
import { checkDataDir, type DataDirNeed } from '../db/data-dir.js';
import { AppError } from '../lib/errors.js';
import { displayBase, setupLink, startServer } from '../server.js';
import { validateGroups } from '../users/groups.js';
import { normalizeUsername } from '../users/username.js';
import type { User } from '../users/repository.js';
import { explainAccess } from './access-check.js';
import { liftBans, listBans } from './ban-command.js';
import { CliError, formatTime, obtainPassword, printTable } from './io.js';
import { renderConfig, runBackup, runDbCheck, runRestore } from './ops.js';

interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

const defaultIo: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function program(io: Io): Command {
  const root = new Command('gatehouse')
    .description('Self-hosted authentication gateway for the home.')
    .option('-c, --config <file>', 'YAML config file (default: $GATEHOUSE_CONFIG)')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  const configFile = () => root.opts<{ config?: string }>().config;
  const loadOptions = () => {
    const file = configFile();
    return file ? { file } : {};
  };
  const currentConfig = () => loadConfig(loadOptions());
  /** The config, once its data dir meets `need` (else exit 2 naming the path and how it was chosen). */
  const configFor = (need: DataDirNeed) => {
    const config = currentConfig();
    checkDataDir(config.data_dir, need, dataDirSource(loadOptions()));
    return config;
  };
  // Every command but serve and restore works on the server's existing database: none
  // creates one where a wrong directory or setting points.
  const withContext = async <T>(work: (ctx: AppContext) => Promise<T> | T): Promise<T> => {
    const ctx = createContext(configFor('database'), { existingDatabase: true });
    try {
      return await work(ctx);
    } finally {
      ctx.close();
    }
  };
  const by = `cli:${process.env.SUDO_USER ?? process.env.USER ?? 'unknown'}`;

  root
    .command('serve')
    .description('run the server (same as npm start)')
    .action(async () => {
      const running = await startServer(configFor('creatable'));
      await new Promise<void>((resolve, reject) => {
        const stop = () => void running.stop().then(resolve, reject);
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
    });

  root
    .command('setup-link')
    .description('print a fresh first-run setup link (only while no user exists)')
    .action(() =>
      withContext((ctx) => {
        const issued = ctx.setup.issueIfNeeded();
        if (!issued) throw new CliError('setup is complete (users exist); add users with "gatehouse user add"');
        ctx.audit.setupTokenIssued();
        io.out(setupLink(displayBase(ctx.config, ctx.config.server.port), issued.token));
        io.out(`valid until ${formatTime(issued.expiresAt)} UTC, once; older links no longer work`);
      }),
    );

  root
    .command('access')
    .description('access rules')
    .command('check <url>')
    .description('show which access rule applies to a request and what gatehouse would answer')
    .option('-u, --user <name>', 'as this user (default: not signed in)')
    .option('--ip <address>', 'client IP (default: none, so rules with networks do not match)')
    .option('-m, --method <method>', 'HTTP method', 'GET')
    .action((url: string, opts: { user?: string; ip?: string; method: string }) =>
      withContext((ctx) => {
        const result = explainAccess(ctx, url, opts);
        for (const line of result) io.out(line);
      }),
    );

  const user = root.command('user').description('manage household members');
  user
    .command('add <name>')
    .description('create a user (asks for the password, or reads it with --password-stdin)')
    .option('-g, --group <group>', 'a group to join, repeatable ("admins" makes an administrator)', collect, [])
    .option('--display-name <name>', 'the name shown on pages')
    .option('--email <address>', 'email address')
    .option('--password-stdin', 'read the password from standard input')
    .action((username: string, opts: { group: string[]; displayName?: string; email?: string; passwordStdin?: boolean }) =>
      withContext(async (ctx) => {
        // Check what can be checked before asking for a password.
        const name = normalizeUsername(username);
        if (!name.ok) throw new CliError(name.message);
        if (ctx.users.findByUsername(name.username)) throw new CliError(`A user named "${name.username}" already exists.`);
        try {
          validateGroups(opts.group);
        } catch (err) {
          throw new CliError((err as Error).message, 2);
        }
        const password = await obtainPassword(opts.passwordStdin === true);
        const created = await ctx.accounts.create({
          username,
          password,
          groups: opts.group,
          by,
          ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
          ...(opts.email !== undefined ? { email: opts.email } : {}),
        });
        io.out(`created user ${created.username}${created.groups.length ? ` (groups: ${created.groups.join(', ')})` : ''}`);
      }),
    );
  user
    .command('list')
    .description('list users')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withContext((ctx) => {
        const users = ctx.users.list();
        if (opts.json) return io.out(JSON.stringify(users, null, 2));
        if (!users.length) return io.out('no users yet (see "gatehouse setup-link" or "gatehouse user add")');
        printTable(
          io.out,
          ['USERNAME', 'NAME', 'GROUPS', 'STATUS', 'LAST LOGIN (UTC)'],
          users.map((u) => [u.username, u.displayName, u.groups.join(',') || '-', userStatus(u), formatTime(u.lastLoginAt)]),
        );
      }),
    );
  user
    .command('passwd <name>')
    .description("set a user's password; ends all of that user's sessions")
    .option('--password-stdin', 'read the password from standard input')
    .option('--must-change', 'a temporary password: the user must choose a new one at the next sign-in')
    .action((name: string, opts: { passwordStdin?: boolean; mustChange?: boolean }) =>
      withContext(async (ctx) => {
        const target = ctx.accounts.require(name);
        const password = await obtainPassword(opts.passwordStdin === true);
        const { sessionsRevoked } = await ctx.accounts.setPassword(name, password, by, {
          reset: opts.mustChange === true,
          hasSecondFactor: ctx.twoFactor.isEnabled(target.id),
        });
        io.out(`password changed; ${sessionsRevoked} session(s) ended${opts.mustChange ? '; a new one must be chosen at the next sign-in' : ''}`);
      }),
    );
  user
    .command('reset-2fa <name>')
    .description("remove a user's second factors (authenticator app, passkeys, recovery codes) after a lost phone and end their sessions; audited")
    .action((name: string) =>
      withContext((ctx) => {
        const target = ctx.accounts.require(name);
        const removed = ctx.twoFactor.reset(target, by);
        const what = [
          removed.totp ? 'authenticator app' : '',
          removed.passkeys ? `${removed.passkeys} passkey(s)` : '',
          removed.recoveryCodes ? `${removed.recoveryCodes} recovery code(s)` : '',
        ].filter(Boolean);
        const list = what.length > 1 ? `${what.slice(0, -1).join(', ')} and ${what.at(-1)}` : what[0];
        const ended = `${removed.sessionsRevoked} session(s) ended`;
        io.out(list ? `reset ${target.username}: removed ${list}; ${ended}; the password alone now signs in` : `${target.username} had no second factor; nothing removed; ${ended}`);
      }),
    );
  user
    .command('edit <name>')
    .description("change a user's display name, email or groups")
    .option('--display-name <name>', 'the name shown on pages')
    .option('--email <address>', 'email address ("" removes it)')
    .option('-g, --group <group>', 'a group of the complete new list, repeatable (--group a --group b)', collect)
    .option('--no-groups', 'remove the user from every group')
    .action((name: string, opts: { displayName?: string; email?: string; group?: string[]; groups?: boolean }) =>
      withContext((ctx) => {
        const changes = {
          ...(opts.displayName !== undefined ? { displayName: opts.displayName } : {}),
          ...(opts.email !== undefined ? { email: opts.email } : {}),
          ...(opts.group !== undefined ? { groups: opts.group } : opts.groups === false ? { groups: [] } : {}),
        };
        if (!Object.keys(changes).length) throw new CliError('nothing to change: give --display-name, --email, --group or --no-groups', 2);
        const u = ctx.accounts.update(name, changes, by);
        io.out(`updated ${u.username}: name "${u.displayName}", email ${u.email ?? '-'}, groups ${u.groups.join(',') || '-'}`);
      }),
    );
  user
    .command('disable <name>')
    .description('disable a user: end their sessions and revoke their API tokens')
    .action((name: string) =>
      withContext((ctx) => {
        const { user: u, sessionsRevoked, tokensRevoked } = ctx.accounts.disable(name, by);
        io.out(`disabled ${u.username}; ${sessionsRevoked} session(s) ended, ${tokensRevoked} API token(s) revoked`);
      }),
    );
  user
    .command('enable <name>')
    .description('enable a disabled user')
    .action((name: string) =>
      withContext((ctx) => {
        io.out(`enabled ${ctx.accounts.enable(name, by).username}`);
      }),
    );
  user
    .command('delete <name>')
    .description('delete a user and end their sessions (the audit log keeps its entries)')
    .action((name: string) =>
      withContext((ctx) => {
        const { user: u, sessionsRevoked } = ctx.accounts.delete(name, by);
        io.out(`deleted ${u.username}; ${sessionsRevoked} session(s) ended`);
      }),
    );

  const session = root.command('session').description('list and end sessions');
  session
    .command('list')
    .description('list live sessions')
    .option('-u, --user <name>', 'only this user')
    .option('-a, --all', 'include ended sessions (with the reason)')
    .option('--json', 'print JSON')
    .action((opts: { user?: string; all?: boolean; json?: boolean }) =>
      withContext((ctx) => {
        const filter = { includeEnded: opts.all === true, ...(opts.user ? { userId: ctx.accounts.require(opts.user).id } : {}) };
        const limit = 1000;
        const sessions = ctx.sessions.list({ ...filter, limit });
        if (opts.json) return io.out(JSON.stringify(sessions, null, 2));
        if (!sessions.length) return io.out('no sessions');
        printTable(
          io.out,
          ['ID', 'USER', 'IP', 'CREATED (UTC)', 'LAST SEEN (UTC)', 'ENDS (UTC)', 'STATE'],
          sessions.map((s) => [
            s.handle,
            s.username ?? '-',
            s.boundIp ?? '-',
            formatTime(s.createdAt),
            formatTime(s.lastSeenAt),
            s.deletedAt === null ? formatTime(s.expiresAt) : '-',
            s.deletedAt === null ? 'live' : `ended: ${s.deleteReason ?? '?'}`,
          ]),
        );
        if (sessions.length === limit) io.out(`(showing the newest ${limit}; narrow it with --user)`);
      }),
    );
  session
    .command('revoke <id-prefix>')
    .description('end a session, named by the start of its ID from "session list"')
    .action((prefix: string) =>
      withContext((ctx) => {
        let ended;
        try {
          ended = ctx.sessions.revokeByHandle(prefix, 'revoked', by);
        } catch (err) {
          if (err instanceof RangeError) throw new CliError(err.message, 2);
          throw err;
        }
        if (!ended) throw new CliError(`no live session starts with ${prefix}`);
        io.out(`ended session ${ended.handle}${ended.username ? ` of ${ended.username}` : ''}`);
      }),
    );

  const ban = root.command('ban').description('login throttling: banned addresses and locked usernames');
  ban
    .command('list')
    .description('list active bans and locks')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }) =>
      withContext((ctx) => {
        for (const line of listBans(ctx, opts)) io.out(line);
      }),
    );
  ban
    .command('lift <ip|user>')
    .description('lift the bans and clear the failure counters of an IP address or a username')
    .action((target: string) =>
      withContext((ctx) => {
        for (const line of liftBans(ctx, target, by)) io.out(line);
      }),
    );

  root
    .command('backup <file>')
    .description('copy the database and the cookie key into one file (online: the server may keep running)')
    .option('-f, --force', 'replace the file if it exists')
    .action(async (file: string, opts: { force?: boolean }) => {
      for (const line of await runBackup(configFor('database'), file, opts)) io.out(line);
    });
  root
    .command('restore <file>')
    .description('replace the database with a backup (server stopped); the current one is kept as a .bak')
    .action((file: string) => {
      // The one command besides serve that may create the database: into an existing data dir.
      for (const line of runRestore(configFor('directory'), file)) io.out(line);
    });
  root
    .command('db')
    .description('database maintenance')
    .command('check [file]')
    .description('schema (only what the migrations create), integrity and foreign-key check of the database (or of a backup file); exit 1 on problems')
    .action((file: string | undefined) => {
      for (const line of runDbCheck(file === undefined ? configFor('database') : currentConfig(), file)) io.out(line);
    });
  root
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the configuration (file + environment) and print the effective values, secrets redacted')
    .option('--json', 'print JSON instead of YAML')
    .action((opts: { json?: boolean }) => {
      const file = configFile();
      io.out(renderConfig(currentConfig(), { ...opts, ...(file ? { file } : {}) }));
    });

  return root;
}

/** Runs the CLI; resolves to the exit code. */
export async function run(argv: string[], io: Io = defaultIo): Promise<number> {
  try {
    await program(io).parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof ConfigError) {
      io.err(`gatehouse: ${err.message}`);
      return 2;
    }
    if (err instanceof CliError) {
      io.err(`gatehouse: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof AppError) {
      io.err(`gatehouse: ${err.publicMessage}`);
      return 1;
    }
    if (err instanceof Error && err.name === 'ExitPromptError') {
      io.err('gatehouse: cancelled');
      return 130;
    }
    io.err(`gatehouse: unexpected error: ${(err as Error).message ?? String(err)}`);
    return 1;
  }
}

/**
 * A repeatable option's values in order (--group a --group b). Not a variadic option
 * (<group...>): that would also take the arguments after it (user add --group family kim).
 */
function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function userStatus(u: User): string {
  const flags = [u.disabled ? 'disabled' : 'active'];
  if (u.mustChangePassword) flags.push('must change password');
  if (u.deletionRequestedAt !== null) flags.push('asked to be deleted');
  return flags.join(', ');
}
