// A readable device name for a session ("Firefox 128 on Ubuntu") from its stored user agent.

import { UAParser } from 'ua-parser-js';

export function deviceLabel(userAgent: string | null): string {
  if (!userAgent) return 'Unknown device';
  const ua = new UAParser(userAgent).getResult();
  const browser = [ua.browser.name, ua.browser.major].filter(Boolean).join(' ');
  const os = [ua.os.name, ua.os.name === 'Windows' || ua.os.name === 'Mac OS' ? ua.os.version : undefined].filter(Boolean).join(' ');
  const device = ua.device.model && ua.device.vendor ? `${ua.device.vendor} ${ua.device.model}` : ua.device.model;
  if (!browser && !os) return userAgent.length > 60 ? `${userAgent.slice(0, 57)}…` : userAgent;
  const where = device ?? os;
  return where ? `${browser || 'Browser'} on ${where}` : browser;
}
