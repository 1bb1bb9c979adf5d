// Whether the data dir and its database are there, checked before the CLI opens them. Only
// the server creates a database (and a restore puts one into an existing data dir): any
// other command on a missing one is refused (exit 2) with the path it looked at and how that
// path was chosen, instead of answering for a new, empty database no server uses.

import { statSync } from 'node:fs';
import { OperatorError } from '../lib/errors.js';
import { databasePath } from './connection.js';

/**
 * What a command needs: `database` an existing gatehouse.db (every command but serve,
 * restore and config check), `directory` an existing data dir (restore), `creatable`
 * nothing that blocks creating it (serve: the data dir, if it exists, is a directory).
 */
export type DataDirNeed = 'database' | 'directory' | 'creatable';

type Found = 'missing' | 'directory' | 'file' | 'other' | 'no-access';

function look(path: string): Found {
  try {
    const st = statSync(path);
    return st.isDirectory() ? 'directory' : st.isFile() ? 'file' : 'other';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return 'missing';
    // A part of the path is a file: it is not a directory either.
    if (code === 'ENOTDIR') return 'other';
    if (code === 'EACCES' || code === 'EPERM') return 'no-access';
    throw err;
  }
}

const SET_IT = 'GATEHOUSE_DATA_DIR (or data_dir in the config file, via --config or GATEHOUSE_CONFIG)';

/** Throws an OperatorError (exit 2) naming the path and `source` unless the data dir meets `need`. */
export function checkDataDir(dataDir: string, need: DataDirNeed, source: string): void {
  const refuse = (problem: string, hint: string): never => {
    throw new OperatorError(`${problem}\n  the data dir ${dataDir} was chosen by ${source}\n  ${hint}`, 2);
  };
  const noAccess = (path: string) =>
    refuse(`cannot look into ${path}: permission denied`, 'Run the command as the account the server runs as (for an installed service: sudo gatehouse …).');
  const dir = look(dataDir);
  if (dir === 'no-access') noAccess(dataDir);
  if (dir === 'file' || dir === 'other') refuse(`the data dir ${dataDir} is not a directory`, `Point ${SET_IT} at the server's data directory.`);
  if (need === 'creatable') return;
  const serverHint = `Only "gatehouse serve" (npm start) creates a database. Give this command the server's data dir: run it where the server runs, or set ${SET_IT} as the server has it.`;
  if (dir === 'missing') {
    refuse(`the data dir ${dataDir} does not exist`, need === 'directory' ? `Create it (mkdir -m 700 ${dataDir}), or set ${SET_IT} as the server has it.` : serverHint);
  }
  if (need === 'directory') return;
  const file = databasePath(dataDir);
  const db = look(file);
  if (db === 'no-access') noAccess(file);
  if (db === 'missing') refuse(`no gatehouse database at ${file}`, serverHint);
  if (db !== 'file') refuse(`${file} is not a file`, serverHint);
}
