// HTTP adapters for the audit log page: filters (event, user, IP, time range in UTC), keyset
// paging 50 at a time, entries in words, and the same filters exported as CSV (codes kept).

import { isIP } from 'node:net';
import type { Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import type { AuditEntry } from '../audit/query.js';
import type { AuditFilter } from '../audit/query.js';
import { auditSentence, eventName } from '../audit/sentences.js';
import type { AppContext } from '../context.js';
import type { Guards } from '../http/guards.js';
import { renderPage } from '../http/views.js';
import { AppError, badRequest } from '../lib/errors.js';
import { normalizeUsername } from '../users/username.js';
import { firstProblem, formText } from '../http/form-fields.js';
import { frame } from './shared.js';

export const AUDIT_PAGE_SIZE = 50;

const auditQuery = z.object({
  event: formText('event', 64).optional(),
  user: formText('user', 256).optional(),
  ip: formText('ip', 64).optional(),
  from: formText('from', 32).optional(),
  to: formText('to', 32).optional(),
  before: formText('before', 20).optional(),
});

type RawQuery = z.output<typeof auditQuery>;

/** The filters as typed, for the form and the paging links ('' when absent). */
interface ShownFilters {
  event: string;
  user: string;
  ip: string;
  from: string;
  to: string;
}

const MOMENT = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?)?$/;

/**
 * A date (YYYY-MM-DD) or date and time (YYYY-MM-DDTHH:MM[:SS], what datetime-local sends),
 * in UTC. Returns the start of that day/minute/second and its length, so "to" can include it.
 */
export function parseMoment(raw: string, label: string): { start: number; span: number } {
  const m = MOMENT.exec(raw);
  const bad = () => badRequest('invalid-time', `${label} must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM), in UTC.`);
  if (!m) throw bad();
  const [y, mo, d, h, mi, s] = m.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  const start = Date.UTC(y as number, (mo as number) - 1, d as number, h ?? 0, mi ?? 0, s ?? 0);
  const back = new Date(start);
  // Date.UTC rolls 2026-02-31 over into March; a date that does not round-trip does not exist.
  if (
    y === undefined || y < 1970 || back.getUTCFullYear() !== y || back.getUTCMonth() !== (mo as number) - 1 || back.getUTCDate() !== d ||
    back.getUTCHours() !== (h ?? 0) || back.getUTCMinutes() !== (mi ?? 0) || back.getUTCSeconds() !== (s ?? 0)
  ) {
    throw bad();
  }
  const span = h === undefined ? 86_400_000 : s === undefined ? 60_000 : 1000;
  return { start, span };
}

/** Turns the query into a filter for src/audit/query.ts; throws 400 with the field named. */
function toFilter(ctx: AppContext, q: RawQuery): { filter: AuditFilter; shown: ShownFilters; before: number | undefined } {
  const given = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());
  const filter: AuditFilter = {};
  const shown: ShownFilters = { event: '', user: '', ip: '', from: '', to: '' };
  const event = given(q.event);
  if (event !== undefined) {
    if (!/^[a-z][a-z0-9-]{0,63}$/.test(event)) throw badRequest('invalid-event', 'event must be an event name such as "login-failed".');
    filter.event = shown.event = event;
  }
  const user = given(q.user);
  if (user !== undefined) {
    const name = normalizeUsername(user);
    if (!name.ok) throw badRequest('invalid-user', `user: ${name.message}`);
    // An existing user's entries are found by id, and failed sign-ins (no id) by the name
    // typed; a deleted or unknown user's only by the name recorded.
    const found = ctx.users.findByUsername(name.username);
    if (found) filter.userId = found.id;
    filter.username = name.username;
    shown.user = name.username;
  }
  const ip = given(q.ip);
  if (ip !== undefined) {
    if (isIP(ip) === 0) throw badRequest('invalid-ip', 'ip must be an IPv4 or IPv6 address such as 192.168.1.20.');
    filter.ip = shown.ip = ip.toLowerCase();
  }
  const from = given(q.from);
  if (from !== undefined) {
    filter.from = parseMoment(from, 'from').start;
    shown.from = from;
  }
  const to = given(q.to);
  if (to !== undefined) {
    const moment = parseMoment(to, 'to');
    // "to" includes the day or minute it names.
    filter.to = moment.start + moment.span;
    shown.to = to;
  }
  if (filter.from !== undefined && filter.to !== undefined && filter.from >= filter.to) {
    throw badRequest('invalid-range', '"from" must be earlier than "to".');
  }
  const beforeRaw = given(q.before);
  let before: number | undefined;
  if (beforeRaw !== undefined) {
    if (!/^[1-9][0-9]{0,14}$/.test(beforeRaw)) throw badRequest('invalid-before', 'before must be an entry number.');
    before = Number(beforeRaw);
  }
  return { filter, shown, before };
}

/**
 * Entries as the pages show them: the user they are about (by id while the user exists, a
 * deleted one as an anonymous number) and what happened as a sentence (src/audit/sentences.ts).
 */
export function describeEntries(ctx: AppContext, entries: AuditEntry[]): Array<AuditEntry & { who: string; sentence: string }> {
  return entries.map((e) => {
    const who = e.username ?? (e.userId !== null ? (ctx.users.findById(e.userId)?.username ?? `#${e.userId} (deleted)`) : '');
    return { ...e, who, sentence: auditSentence(e, who) };
  });
}

function query(shown: ShownFilters, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...shown, ...extra })) if (v !== '') params.set(k, v);
  const s = params.toString();
  return s ? `?${s}` : '';
}

export function adminAuditRoutes(ctx: AppContext, guards: Guards) {
  function render(req: Request, res: Response, status: number, locals: Record<string, unknown>): void {
    const eventCodes = ctx.auditLog.eventNames();
    // The filter lists events by name; the value sent is the code (as in the CSV and the API).
    const events = eventCodes.map((code) => ({ code, name: eventName(code) })).sort((a, b) => a.name.localeCompare(b.name));
    renderPage(res, 'admin-audit.njk', { ...frame(req, guards, 'audit', 'Audit log'), events, eventCodes, ...locals }, status);
  }

  function parse(req: Request): ReturnType<typeof toFilter> {
    const parsed = auditQuery.safeParse(req.query);
    if (!parsed.success) throw badRequest('invalid-query', firstProblem(parsed.error));
    return toFilter(ctx, parsed.data);
  }

  const page: RequestHandler = (req, res) => {
    let parsed: ReturnType<typeof toFilter>;
    try {
      parsed = parse(req);
    } catch (err) {
      const shown = { event: '', user: '', ip: '', from: '', to: '' };
      if (err instanceof AppError && err.status === 400) return render(req, res, 400, { error: err.publicMessage, entries: [], filters: shown });
      throw err;
    }
    const { filter, shown, before } = parsed;
    const result = ctx.auditLog.page(filter, { limit: AUDIT_PAGE_SIZE, ...(before !== undefined ? { before } : {}) });
    const shownTime = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
    const entries = describeEntries(ctx, result.entries).map((e) => ({
      ...e,
      time: shownTime(e.at),
      // A coalesced row (repeated refusals from one address): how many, and until when.
      lastTime: shownTime(e.lastAt),
    }));
    render(req, res, 200, {
      entries,
      filters: shown,
      filtered: Object.values(shown).some((v) => v !== ''),
      older: result.next !== null ? `/admin/audit${query(shown, { before: String(result.next) })}` : null,
      newest: before !== undefined ? `/admin/audit${query(shown)}` : null,
      csv: `/admin/audit.csv${query(shown)}`,
    });
  };

  const csv: RequestHandler = (req, res) => {
    const { filter } = parse(req);
    const day = new Date(ctx.clock.now()).toISOString().slice(0, 10);
    res
      .status(200)
      .set({
        'Content-Type': 'text/csv; charset=utf-8',
        'Content-Disposition': `attachment; filename="gatehouse-audit-${day}.csv"`,
        'Cache-Control': 'no-store',
      })
      .send(ctx.auditLog.csv(filter));
  };

  return { page, csv };
}
