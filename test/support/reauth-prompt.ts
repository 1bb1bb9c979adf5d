// The password prompt a page form gets when its sign-in is over 10 minutes old (the answer
// itself, src/auth/reauth-inline.ts): reading its form from the HTML and sending it back
// with the password, as a browser does when the user types it and clicks "Confirm and continue".

import type { Browser, Reply } from './browser.js';

export interface PromptForm {
  action: string;
  /** The hidden fields in order, `_csrf` included; repeated names stay repeated. */
  fields: Array<[string, string]>;
  /** The password input's name. */
  passwordField: string;
}

const unescape = (s: string): string =>
  s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** The prompt's form in a reply, or null when the reply is not the prompt. */
export function promptForm(reply: Reply): PromptForm | null {
  for (const [, action, inner] of reply.text.matchAll(/<form method="post" action="([^"]*)" class="stack">([\s\S]*?)<\/form>/g)) {
    const password = /<input id="password" name="([^"]+)" type="password"/.exec(inner as string);
    if (!password || password[1] === 'password') continue; // the /reauth page's own form
    const fields = [...(inner as string).matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)">/g)].map((m) => [unescape(m[1] as string), unescape(m[2] as string)] as [string, string]);
    return { action: unescape(action as string), fields, passwordField: password[1] as string };
  }
  return null;
}

/** Types `password` into the prompt and submits it (with the Referer of the page the form came from). */
export function answerPrompt(b: Browser, reply: Reply, password: string, referer?: string): Promise<Reply> {
  const form = promptForm(reply);
  if (!form) throw new Error(`not the password prompt (status ${reply.status})`);
  const body: Record<string, string[]> = {};
  for (const [name, value] of form.fields) (body[name] ??= []).push(value);
  body[form.passwordField] = [password];
  return b.post(form.action, body, referer ? { referer } : {});
}
