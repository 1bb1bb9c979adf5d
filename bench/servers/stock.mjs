// HTTP benchmark baseline: the stock stack (express 5 + express-session + connect-sqlite3 +
// passport session) answering 200 on a route that checks req.user.
// Usage: node bench/servers/stock.mjs <port> <dir> <sid> <secret>: stores a
// signed-in session under <sid> in <dir>/sessions.db, then listens; prints "ready <port>".

import { createRequire } from 'node:module';
import express from 'express';
import session from 'express-session';
import passport from 'passport';

const require = createRequire(import.meta.url);
// connect-sqlite3 is CommonJS: a factory taking express-session (from bench/node_modules;
// bench/package.json).
const connectSqlite3 = require('connect-sqlite3');

const [portArg, dir, sid, secret] = process.argv.slice(2);
if (!portArg || !dir || !sid || !secret) throw new Error('usage: stock.mjs <port> <dir> <sid> <secret>');
const port = Number(portArg);

// The users "database" is a map: the most favourable deserializeUser the stock stack can have.
const users = new Map([[1, { id: 1, username: 'bench' }]]);
passport.serializeUser((user, done) => done(null, user.id));
passport.deserializeUser((id, done) => done(null, users.get(id) ?? false));

const SQLiteStore = connectSqlite3(session);
const store = new SQLiteStore({ dir, db: 'sessions.db' });
const day = 86_400_000;
const signedIn = {
  cookie: { originalMaxAge: day, expires: new Date(Date.now() + day).toISOString(), httpOnly: true, path: '/', sameSite: 'lax' },
  passport: { user: 1 },
}; // a stored session, as express-session serializes it

const app = express();
app.disable('x-powered-by');
app.use(
  session({ secret, store, resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax', maxAge: day } }),
  passport.initialize(),
  passport.session(),
);
app.get('/protected', (req, res) => {
  const user = req.user;
  if (!user) {
    res.status(401).type('text/plain').send('Unauthorized\n');
    return;
  }
  res.set({ 'Remote-User': user.username, 'Cache-Control': 'no-store' }).type('text/plain').send('OK\n');
});

store.set(sid, signedIn, (err) => {
  if (err) throw err;
  app.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
});
