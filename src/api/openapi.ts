// The OpenAPI 3.1 document of /api/v1, generated from the operation list below and the zod
// schemas the handlers validate and serialize with (schemas.ts), so it cannot drift from
// them; a test checks that it names exactly the routes of the route table.

import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context.js';
import { cookieNames } from '../sessions/cookie.js';
import { TOKEN_PREFIX } from '../tokens/api-tokens.js';
import * as S from './schemas.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
/** public: no credentials; session: a signed-in browser session only (no API tokens). */
type Access = 'public' | 'read' | 'write' | 'admin' | 'session';
type JsonSchema = Record<string, unknown>;

interface Operation {
  method: Method;
  /** Express style (`:name` parameters), exactly as in the route table. */
  path: string;
  tag: 'meta' | 'me' | 'users' | 'sessions' | 'audit' | 'bans';
  summary: string;
  description?: string;
  access: Access;
  /** A cookie session must have authenticated in the last 10 minutes (403 reauth-required). */
  recentAuth?: boolean;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  ok: 200 | 201 | 204;
  result?: z.ZodType;
  /** Further error statuses this operation answers with. */
  errors?: number[];
}

const user = { params: S.UsernameParams, errors: [404] };

/** Every operation of /api/v1. */
export const OPERATIONS: Operation[] = [
  { method: 'get', path: '/api/v1/openapi.json', tag: 'meta', summary: 'This document', access: 'public', ok: 200 },
  {
    method: 'get',
    path: '/api/v1/csrf',
    tag: 'meta',
    summary: 'The CSRF token for cookie sessions',
    description: 'Send it as the X-CSRF-Token header with every state-changing request made with the session cookie.',
    access: 'session',
    ok: 200,
    result: S.CsrfJson,
  },

  { method: 'get', path: '/api/v1/me', tag: 'me', summary: 'Who is calling', access: 'read', ok: 200, result: S.MeJson },
  {
    method: 'put',
    path: '/api/v1/me/password',
    tag: 'me',
    summary: 'Change your password',
    description:
      'Needs the current password (throttled like sign-in) and, when the account has a second factor, a session that passed it (else 403 second-factor-required). Ends your other sessions and revokes your API tokens; this one stays signed in under a new session ID (a new cookie is set) and a new CSRF token, returned here.',
    access: 'session',
    body: S.PasswordChangeBody,
    ok: 200,
    result: S.PasswordChanged,
  },
  {
    method: 'post',
    path: '/api/v1/me/reauth',
    tag: 'me',
    summary: 'Confirm your password',
    description:
      'Makes this session count as recently authenticated for 10 minutes, as dangerous admin operations and creating API tokens require. The session continues under a new ID (a new cookie is set) with a new CSRF token, returned here.',
    access: 'session',
    body: S.PasswordBody,
    ok: 200,
    result: S.Reauthenticated,
  },
  { method: 'get', path: '/api/v1/me/sessions', tag: 'me', summary: 'Your live and recently ended sessions', access: 'read', ok: 200, result: S.MySessions },
  {
    method: 'post',
    path: '/api/v1/me/sessions/revoke-others',
    tag: 'me',
    summary: 'Sign out everywhere else',
    description: 'Ends all your sessions but the one making the call (with an API token: all of them).',
    access: 'write',
    ok: 200,
    result: S.SessionsRevoked,
  },
  { method: 'delete', path: '/api/v1/me/sessions/:handle', tag: 'me', summary: 'End one of your sessions', access: 'write', params: S.MySessionParams, ok: 204, errors: [404] },
  { method: 'get', path: '/api/v1/me/data', tag: 'me', summary: 'Everything gatehouse stores about you', access: 'read', ok: 200, result: S.PersonalData },
  { method: 'get', path: '/api/v1/me/tokens', tag: 'me', summary: 'Your API tokens', access: 'read', ok: 200, result: S.TokenList },
  {
    method: 'post',
    path: '/api/v1/me/tokens',
    tag: 'me',
    summary: 'Create an API token',
    description:
      'The secret is in the answer once and never again. A token cannot create tokens; the admin scope is for administrators. Needs a recent authentication (403 reauth-required) and, when the account has a second factor, a session that passed it (403 second-factor-required).',
    access: 'session',
    body: S.TokenCreateBody,
    ok: 201,
    result: S.TokenCreated,
  },
  { method: 'delete', path: '/api/v1/me/tokens/:id', tag: 'me', summary: 'Revoke one of your API tokens', access: 'write', params: S.TokenParams, ok: 204, errors: [404] },
  {
    method: 'post',
    path: '/api/v1/me/deletion-request',
    tag: 'me',
    summary: 'Ask for your account to be deleted',
    description: 'Needs your password. An administrator confirms by deleting the account.',
    access: 'session',
    body: S.PasswordBody,
    ok: 200,
    result: S.DeletionRequested,
  },
  { method: 'delete', path: '/api/v1/me/deletion-request', tag: 'me', summary: 'Withdraw your deletion request', access: 'write', ok: 204 },

  { method: 'get', path: '/api/v1/users', tag: 'users', summary: 'List users (paged)', access: 'admin', query: S.UsersQuery, ok: 200, result: S.UserPage },
  { method: 'post', path: '/api/v1/users', tag: 'users', summary: 'Create a user', access: 'admin', recentAuth: true, body: S.UserCreateBody, ok: 201, result: S.UserResult, errors: [409] },
  { method: 'get', path: '/api/v1/users/:username', tag: 'users', summary: 'One user', access: 'admin', ...user, ok: 200, result: S.UserResult },
  {
    method: 'patch',
    path: '/api/v1/users/:username',
    tag: 'users',
    summary: 'Change display name, email or groups',
    access: 'admin',
    recentAuth: true,
    ...user,
    body: S.UserPatchBody,
    ok: 200,
    result: S.UserResult,
    errors: [404, 409],
  },
  {
    method: 'delete',
    path: '/api/v1/users/:username',
    tag: 'users',
    summary: 'Delete a user and their personal data',
    access: 'admin',
    recentAuth: true,
    ...user,
    ok: 204,
    errors: [404, 409],
  },
  {
    method: 'put',
    path: '/api/v1/users/:username/password',
    tag: 'users',
    summary: 'Set a user’s password',
    description: 'Ends all their sessions; they must choose their own password at next sign-in.',
    access: 'admin',
    recentAuth: true,
    ...user,
    body: S.PasswordBody,
    ok: 200,
    result: S.PasswordReset,
  },
  {
    method: 'post',
    path: '/api/v1/users/:username/disable',
    tag: 'users',
    summary: 'Disable a user (ends their sessions, revokes their API tokens)',
    access: 'admin',
    recentAuth: true,
    ...user,
    ok: 200,
    result: S.DisabledUser,
    errors: [404, 409],
  },
  { method: 'post', path: '/api/v1/users/:username/enable', tag: 'users', summary: 'Enable a user', access: 'admin', recentAuth: true, ...user, ok: 200, result: S.UserResult },
  {
    method: 'post',
    path: '/api/v1/users/:username/reset-two-factor',
    tag: 'users',
    summary: 'Reset a user’s second factors (a lost phone)',
    description:
      'Removes their authenticator app, passkeys and recovery codes, and the browsers that skipped the second step; the password stays. Ends all their sessions (reason second-factor-reset; an administrator resetting their own factors with the session cookie keeps this session). They then sign in with the password alone and can set up a new factor.',
    access: 'admin',
    recentAuth: true,
    ...user,
    ok: 200,
    result: S.SecondFactorsReset,
  },
  {
    method: 'delete',
    path: '/api/v1/users/:username/deletion-request',
    tag: 'users',
    summary: 'Decline a user’s deletion request',
    description: 'The account stays as it is. 409 no-deletion-request when the user has not asked to be deleted.',
    access: 'admin',
    ...user,
    ok: 200,
    result: S.UserResult,
    errors: [404, 409],
  },

  { method: 'get', path: '/api/v1/sessions', tag: 'sessions', summary: 'Signed-in sessions', access: 'admin', query: S.SessionsQuery, ok: 200, result: S.SessionList, errors: [404] },
  {
    method: 'delete',
    path: '/api/v1/sessions/:handle',
    tag: 'sessions',
    summary: 'End a session',
    access: 'admin',
    params: S.SessionParams,
    ok: 204,
    errors: [404, 409],
  },

  {
    method: 'get',
    path: '/api/v1/audit',
    tag: 'audit',
    summary: 'The audit log, newest first',
    description: 'Pass the answer’s `next` as `before` for the next page.',
    access: 'admin',
    query: S.AuditQuery,
    ok: 200,
    result: S.AuditPage,
  },

  { method: 'get', path: '/api/v1/bans', tag: 'bans', summary: 'Active sign-in bans and locks', access: 'admin', ok: 200, result: S.BanList },
  {
    method: 'delete',
    path: '/api/v1/bans/:target',
    tag: 'bans',
    summary: 'Lift the bans of an address or username',
    description: 'Also clears the failure counters of that address or username.',
    access: 'admin',
    params: S.BanParams,
    ok: 204,
    errors: [404],
  },
];

/** Response shapes, documented as output (what the server sends). */
const RESPONSE_COMPONENTS: Record<string, z.ZodType> = {
  Error: S.ErrorBody,
  User: S.UserJson,
  UserPage: S.UserPage,
  UserResult: S.UserResult,
  DisabledUser: S.DisabledUser,
  PasswordReset: S.PasswordReset,
  SecondFactorsReset: S.SecondFactorsReset,
  Me: S.MeJson,
  Token: S.TokenJson,
  TokenList: S.TokenList,
  TokenCreated: S.TokenCreated,
  MySession: S.MySessionJson,
  MySessions: S.MySessions,
  Session: S.SessionJson,
  SessionList: S.SessionList,
  AuditEntry: S.AuditEntryJson,
  AuditPage: S.AuditPage,
  Ban: S.BanJson,
  BanList: S.BanList,
  CsrfToken: S.CsrfJson,
  SessionsRevoked: S.SessionsRevoked,
  PasswordChanged: S.PasswordChanged,
  Reauthenticated: S.Reauthenticated,
  DeletionRequested: S.DeletionRequested,
  PersonalData: S.PersonalData,
};

/** Request bodies, documented as input (what the server accepts). */
const REQUEST_COMPONENTS: Record<string, z.ZodType> = {
  PasswordChange: S.PasswordChangeBody,
  Password: S.PasswordBody,
  TokenCreate: S.TokenCreateBody,
  UserCreate: S.UserCreateBody,
  UserPatch: S.UserPatchBody,
};

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is not valid (malformed JSON, a body that is not valid UTF-8, unknown or wrong fields, bad parameters).',
  401: 'No valid credentials: not signed in, or the API token is missing, malformed, expired or revoked.',
  403: 'Refused: not allowed (insufficient-scope, forbidden, session-required), the CSRF token or same-origin check failed, a password change is required, the password was wrong, a recent authentication is required (reauth-required), or the account has a second factor this session has not passed (second-factor-required).',
  404: 'No such resource.',
  409: 'Conflicts with the current state (user-exists, last-admin, ambiguous-handle, no-deletion-request).',
  413: 'The body is too large (at most 16 kB).',
  415: 'The body is not application/json, or not UTF-8.',
  429: 'Too many requests or wrong passwords; see Retry-After.',
};

/** Converts one generated schema for embedding: no `$schema`/`$id` (the document sets the dialect). */
function embed(schema: JsonSchema): JsonSchema {
  const { $schema: _s, $id: _i, ...rest } = schema;
  return rest;
}

function components(): Record<string, JsonSchema> {
  const generate = (entries: Record<string, z.ZodType>, io: 'input' | 'output') => {
    const registry = z.registry<{ id: string }>();
    for (const [id, schema] of Object.entries(entries)) registry.add(schema, { id });
    const { schemas } = z.toJSONSchema(registry, { io, uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, JsonSchema> };
    return Object.fromEntries(Object.entries(schemas).map(([id, s]) => [id, embed(s)]));
  };
  return { ...generate(RESPONSE_COMPONENTS, 'output'), ...generate(REQUEST_COMPONENTS, 'input') };
}

function componentName(schema: z.ZodType, table: Record<string, z.ZodType>): string {
  const name = Object.entries(table).find(([, s]) => s === schema)?.[0];
  if (!name) throw new Error('an API schema is missing from the OpenAPI components');
  return name;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

function parameters(op: Operation): JsonSchema[] {
  const list: JsonSchema[] = [];
  for (const [where, schema] of [['path', op.params], ['query', op.query]] as const) {
    if (!schema) continue;
    const json = z.toJSONSchema(schema, { io: 'input' }) as { properties?: Record<string, JsonSchema>; required?: string[] };
    for (const [name, property] of Object.entries(json.properties ?? {})) {
      const { description, ...rest } = property;
      list.push({
        name,
        in: where,
        required: where === 'path' || (json.required ?? []).includes(name),
        ...(typeof description === 'string' ? { description } : {}),
        schema: rest,
      });
    }
  }
  return list;
}

function security(op: Operation): Array<Record<string, string[]>> {
  const changes = op.method !== 'get';
  const cookie: Record<string, string[]> = changes ? { cookie: [], csrf: [] } : { cookie: [] };
  switch (op.access) {
    case 'public':
      return [];
    case 'session':
      return [cookie];
    default:
      // OpenAPI 3.1 lets a non-OAuth requirement list roles: here, the token scope needed.
      return [{ bearer: [op.access] }, cookie];
  }
}

function accessText(op: Operation): string {
  const parts: Record<Access, string> = {
    public: 'No authentication.',
    read: 'API token with scope read or higher, or the session cookie.',
    write: 'API token with scope write or higher, or the session cookie (with X-CSRF-Token).',
    admin: 'Administrators only (group admins): an API token with scope admin, or the session cookie.',
    session: 'Signed-in browser session only; API tokens are refused (403 session-required).',
  };
  let text = parts[op.access];
  if (op.recentAuth) {
    text += ' With the session cookie this needs a recent authentication (last 10 minutes), else 403 reauth-required: call POST /api/v1/me/reauth and retry. Admin-scoped API tokens are exempt.';
  }
  return text;
}

function errorStatuses(op: Operation): number[] {
  const statuses = new Set<number>([429, ...(op.errors ?? [])]);
  if (op.access !== 'public') {
    statuses.add(401);
    statuses.add(403);
  }
  if (op.params || op.query) statuses.add(400);
  if (op.method === 'post' || op.method === 'put' || op.method === 'patch') [400, 413, 415].forEach((s) => statuses.add(s));
  return [...statuses].sort((a, b) => a - b);
}

function operationObject(op: Operation): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  if (op.ok === 204) responses['204'] = { description: 'Done; no content.' };
  else if (op.path === '/api/v1/openapi.json') responses['200'] = { description: 'This OpenAPI 3.1 document.', content: { 'application/json': { schema: { type: 'object' } } } };
  else {
    if (!op.result) throw new Error(`${op.method} ${op.path} has no result schema`);
    responses[String(op.ok)] = { description: 'Done.', content: { 'application/json': { schema: ref(componentName(op.result, RESPONSE_COMPONENTS)) } } };
  }
  for (const status of errorStatuses(op)) {
    const headers: JsonSchema =
      status === 401
        ? { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'The Bearer challenge.' } }
        : status === 429
          ? { 'Retry-After': { schema: { type: 'string' }, description: 'Seconds to wait.' } }
          : {};
    responses[String(status)] = {
      description: STATUS_TEXT[status] ?? 'Error.',
      ...(Object.keys(headers).length ? { headers } : {}),
      content: { 'application/json': { schema: ref('Error') } },
    };
  }
  responses.default = { description: 'Any other error, e.g. 503 while the database is unavailable.', content: { 'application/json': { schema: ref('Error') } } };
  return {
    operationId: `${op.method}${op.path.replace('/api/v1', '').replace(/[/:.-]+(\w)/g, (_m, c: string) => c.toUpperCase())}`,
    tags: [op.tag],
    summary: op.summary,
    description: [op.description, accessText(op)].filter(Boolean).join('\n\n'),
    security: security(op),
    ...(op.params || op.query ? { parameters: parameters(op) } : {}),
    ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(componentName(op.body, REQUEST_COMPONENTS)) } } } } : {}),
    responses,
  };
}

/** Express `:name` to OpenAPI `{name}`. */
export const openApiPath = (path: string): string => path.replace(/:(\w+)/g, '{$1}');

export function openApiDocument(ctx: AppContext): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const op of OPERATIONS) (paths[openApiPath(op.path)] ??= {})[op.method] = operationObject(op);
  const names = cookieNames(ctx.config.session);
  return {
    openapi: '3.1.0',
    info: {
      title: 'gatehouse API',
      version: '1',
      description: [
        'JSON in and out; times are ISO 8601 strings; errors are `{ "error": { "code", "message" } }`.',
        `Authenticate with a personal API token (\`Authorization: Bearer ${TOKEN_PREFIX}…\`, scopes read < write < admin, created at POST /api/v1/me/tokens) or with the session cookie of a signed-in browser; with the cookie, state-changing requests must be same-origin and carry the X-CSRF-Token header (GET /api/v1/csrf).`,
        'Dangerous admin operations need a recent authentication when called with the cookie (POST /api/v1/me/reauth); admin-scoped API tokens are exempt.',
      ].join('\n\n'),
    },
    tags: [
      { name: 'meta', description: 'This document and the CSRF token.' },
      { name: 'me', description: 'Your own account.' },
      { name: 'users', description: 'Household accounts (administrators).' },
      { name: 'sessions', description: 'Everyone’s sessions (administrators).' },
      { name: 'audit', description: 'The audit log (administrators).' },
      { name: 'bans', description: 'Sign-in bans and locks (administrators).' },
    ],
    paths,
    components: {
      schemas: components(),
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: `${TOKEN_PREFIX}…`, description: 'A personal API token.' },
        cookie: { type: 'apiKey', in: 'cookie', name: names.secure, description: `The session cookie of a signed-in browser (\`${names.plain}\` over plain HTTP).` },
        csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token', description: 'With the cookie, on state-changing requests: the token from GET /api/v1/csrf.' },
      },
    },
  };
}

/** GET /api/v1/openapi.json: built once, public (it holds no personal data). */
export function openApiRoute(ctx: AppContext): RequestHandler {
  const body = JSON.stringify(openApiDocument(ctx));
  return (_req, res) => {
    res.set('Cache-Control', 'public, max-age=300').type('application/json').send(body);
  };
}
