// Tells systemd (Type=notify) that the service is ready or stopping, through systemd-notify.

import { execFile } from 'node:child_process';
import type { Logger } from './log.js';

/*
 * Why a child process: the notification protocol is a datagram on the AF_UNIX socket named
 * by $NOTIFY_SOCKET, and Node has no unix datagram sockets in its standard library. The
 * alternatives were a native addon (sd-notify links libsystemd and needs its headers on
 * the target; unix-dgram is another native build to keep working) or a hand-written
 * datagram sender in another language. systemd's own systemd-notify(1) is on every
 * systemd machine and has handled the known race since systemd 246: a message from a
 * helper process that exits at once can be dropped, because PID 1 finds the sender's unit
 * through /proc/PID/cgroup (systemd#2737). systemd-notify therefore follows its message
 * with a BARRIER=1 round trip and exits only after PID 1 has processed both, so the
 * message is attributed while the sender still exists. The unit needs NotifyAccess=all,
 * as the sender is a child of the main process; every process in the cgroup is ours.
 */

export type NotifyState = 'READY=1' | 'STOPPING=1';

export interface NotifyOptions {
  /** A free-form line shown by `systemctl status` (STATUS=…); never anything secret. */
  status?: string;
  env?: NodeJS.ProcessEnv;
  /** systemd-notify waits up to 5 s for PID 1; allow a little more before giving up. */
  timeoutMs?: number;
}

/**
 * Sends `state` to the service manager. Does nothing (resolves false) when NOTIFY_SOCKET is
 * unset, i.e. not started by systemd as Type=notify. Never rejects: a failure is logged,
 * since systemd then reports the start-up timeout itself and the log says why.
 */
export function notifySystemd(state: NotifyState, log: Logger, options: NotifyOptions = {}): Promise<boolean> {
  const env = options.env ?? process.env;
  if (!env.NOTIFY_SOCKET) return Promise.resolve(false);
  const args: string[] = [state];
  if (options.status !== undefined) args.push(`STATUS=${options.status.replace(/[\r\n]+/g, ' ')}`);
  return new Promise((resolve) => {
    execFile('systemd-notify', args, { env, timeout: options.timeoutMs ?? 7000, windowsHide: true }, (err, _stdout, stderr) => {
      if (err) {
        const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'systemd-notify not found (is systemd installed?)' : stderr.trim() || err.message;
        log.warn({ state, reason }, 'telling systemd failed');
        resolve(false);
        return;
      }
      log.debug({ state }, 'told systemd');
      resolve(true);
    });
  });
}
