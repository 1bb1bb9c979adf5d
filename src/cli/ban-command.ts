// `gatehouse ban list` and `gatehouse ban lift <ip|user>`: the login regulator's active
// bans and locks, and lifting them (the running server sees the change at once).

import type { AppContext } from '../context.js';
import type { Ban } from '../throttle/regulator.js';
import { CliError, formatTime, printTable } from './io.js';

const SCOPES: Record<Ban['scope'], string> = {
  ip: 'address',
  user: 'username (for unknown addresses)',
  pair: 'address+username',
};

function describe(ban: Ban): string {
  const subject = [ban.ip, ban.username].filter((x) => x !== null).join(' ');
  return `${SCOPES[ban.scope]} ${subject} (until ${formatTime(ban.until)} UTC)`;
}

export function listBans(ctx: AppContext, opts: { json?: boolean }): string[] {
  const bans = ctx.regulator.listBans();
  if (opts.json) return [JSON.stringify(bans, null, 2)];
  if (!bans.length) return ['no active bans or locks'];
  const lines: string[] = [];
  printTable(
    (line) => lines.push(line),
    ['SCOPE', 'ADDRESS', 'USER', 'UNTIL (UTC)', 'BANS', 'CAUSE'],
    bans.map((b) => [b.scope === 'pair' ? 'ip+user' : b.scope, b.ip ?? '-', b.username ?? '-', formatTime(b.until), String(b.count), b.cause]),
  );
  return lines;
}

export function liftBans(ctx: AppContext, target: string, by: string): string[] {
  let result;
  try {
    result = ctx.regulator.lift(target, by);
  } catch (err) {
    if (err instanceof RangeError) throw new CliError(`${err.message}; give an IP address (as shown by "ban list") or a username`, 2);
    throw err;
  }
  const name = result.target.kind === 'ip' ? result.target.key : result.target.username;
  if (!result.lifted.length && !result.cleared) throw new CliError(`nothing to lift: no ban, lock or failure counter for ${name} (see "gatehouse ban list")`);
  const lines = result.lifted.map((ban) => `lifted: ${describe(ban)}`);
  if (!result.lifted.length) lines.push(`no active ban or lock for ${name}`);
  lines.push(`cleared ${result.cleared} failure counter(s) for ${name}; its next failure starts from zero`);
  return lines;
}
