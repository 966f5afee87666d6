import { escapeHtml } from '../common/html.js';

/** What each scope gives the app, in the person's words (OIDC Core §5.4; `roles` is ours; §11 for offline_access). */
const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are: an identifier of your account here',
  profile: 'Your name and picture',
  email: 'Your email address, and whether it is verified',
  roles: 'Your roles here',
  offline_access: 'Stay signed in: access your data while you are away, until you revoke it',
};

/** The sentence for a scope the page shows; only known scopes are ever shown or granted. */
export const scopeText = (scope: string): string => (Object.hasOwn(SCOPE_TEXT, scope) ? SCOPE_TEXT[scope] : scope);

export interface ConsentView {
  uid: string;
  clientName: string;
  /** The host of the redirect URI the app registered: where the person will be sent. */
  clientHost: string;
  /** The service's own host (PUBLIC_URL). */
  host: string;
  /** Asked now. */
  scopes: string[];
  /** Individual claims asked for with the claims parameter, beyond the scopes. */
  claims: string[];
  /** Allowed before and asked again: shown, not asked. */
  already: string[];
  csrf: string;
}

/**
 * The consent page, in the look of the service's pages (pages.css, no inline script or style, the pages' CSP). The form
 * carries only the decision and a token bound to this interaction and this browser session: what is granted is read
 * from the interaction on the server, never from the form.
 */
export function consentPage(v: ConsentView): string {
  const items = v.scopes.map((s) => `<li><span>${escapeHtml(scopeText(s))}</span></li>`);
  // `azp` is the app's own id, nothing of the person's: granted with the rest, not worth a line.
  const personal = v.claims.filter((c) => c !== 'azp');
  if (personal.length) items.push(`<li><span>These details of your account: ${escapeHtml(personal.join(', '))}</span></li>`);
  const already = v.already.length
    ? `<p class="note">Already allowed: ${v.already.map((s) => escapeHtml(scopeText(s))).join('; ')}.</p>`
    : '';
  const name = escapeHtml(v.clientName);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Allow access?</title><link rel="icon" href="/assets/favicon.svg"><link rel="stylesheet" href="/assets/pages.css"></head>
<body><main class="card narrow">
<h1>Allow ${name} to access your account?</h1>
<p class="lead"><strong>${name}</strong> (${escapeHtml(v.clientHost)}) asks to use your account at ${escapeHtml(v.host)}. It will get:</p>
<ul class="rows" id="scopes">
${items.join('\n')}
</ul>
${already}
<form method="post" action="/interaction/${escapeHtml(v.uid)}/consent" class="actions">
<input type="hidden" name="csrf" value="${escapeHtml(v.csrf)}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="danger">Deny</button>
</form>
<p class="note">You can revoke this at any time under “Apps with access” on your account page.</p>
</main></body></html>`;
}
