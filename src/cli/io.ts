// Terminal input and output for the CLI: passwords (stdin or a hidden prompt), tables.

import password from '@inquirer/password';
import { OperatorError as CliError } from '../lib/errors.js';

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > 64 * 1024) throw new CliError('standard input is larger than 64 KiB; pipe only the password');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** What a command reports to the operator (exit code 1, or 2 for usage). */
export { CliError };

/** The new password: from stdin (one trailing newline removed) or asked twice on a TTY. */
export async function obtainPassword(fromStdin: boolean): Promise<string> {
  if (fromStdin) {
    const text = await readStdin();
    const value = text.replace(/\r?\n$/, '');
    if (value.includes('\n')) throw new CliError('standard input has more than one line; pipe only the password');
    return value;
  }
  if (!process.stdin.isTTY) throw new CliError('no terminal to ask for the password: use --password-stdin and pipe it in', 2);
  const first = await password({ message: 'New password (15+ characters):', mask: '*' });
  const second = await password({ message: 'Same password again:', mask: '*' });
  if (first !== second) throw new CliError('the two passwords do not match');
  return first;
}

export function formatTime(ms: number | null): string {
  return ms === null ? '-' : new Date(ms).toISOString().replace('T', ' ').slice(0, 16);
}

/** Prints rows as aligned columns under a header. */
export function printTable(out: (line: string) => void, header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  out(line(header));
  for (const r of rows) out(line(r));
}
