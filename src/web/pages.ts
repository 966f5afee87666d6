import type { AbstractHttpAdapter } from '@nestjs/core';
import { githubButton } from './github-button.js';
import type { EnabledProvider } from '../auth/providers/provider-registry.js';
import { escapeHtml } from '../common/html.js';

/**
 * The pages' HTML: server-rendered shells, styled by /assets/pages.css, scripted (account and admin) by same-origin
 * modules, so the Content-Security-Policy needs no inline script or style at all.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/**
 * What each error code the sign-in can end with means to the person who sees it. Read through messageFor only: a code
 * from a URL may be `__proto__` or `toString`, which a plain look-up here would find.
 */
const SIGN_IN_MESSAGES: Record<string, string> = {
  access_denied: 'Sign-in was cancelled. You can try again, or choose another provider.',
  invalid_state: 'This sign-in took too long or was started in another window. Please start again.',
  provider_unavailable: 'The sign-in provider could not be reached. Please try again in a moment.',
  provider_error: 'The sign-in provider refused the request. Please try again, or choose another provider.',
  invalid_id_token: 'The sign-in provider’s answer could not be verified. Please try again.',
  email_required: 'This provider did not share your email address, which this service needs. Allow it and try again.',
  identity_already_linked: 'That account is already linked to another user here, so it was not linked to yours.',
  account_disabled: 'This account is disabled. Contact an administrator.',
  not_logged_in: 'That link works only in the browser where its account is signed in here. Sign in there and start linking again.',
  temporarily_unavailable: 'Sign-in is unavailable for a moment. Please try again shortly.',
  tenant_not_allowed: 'Accounts of your organisation cannot sign in here. Use another account, or ask an administrator.',
  rate_limited: 'Too many sign-in attempts. Please wait a minute and try again.',
  unknown_provider: 'That sign-in provider is not available.',
  session_expired: 'Your session has ended. Please sign in again.',
  invalid_request: 'The sign-in could not be completed. Please start again.',
};

/** The sentence for an error code from a URL: any string, even empty or `__proto__`, gets one (never a 500). */
/** Sends one of these pages: HTML under the pages' CSP, never cached (it may carry a CSRF token or a person's data). */
export function sendPage(http: AbstractHttpAdapter, res: unknown, status: number, body: string, csp = PAGE_CSP): void {
  http.setHeader(res, 'Content-Type', 'text/html; charset=utf-8');
  http.setHeader(res, 'Content-Security-Policy', csp);
  http.setHeader(res, 'Cache-Control', 'no-store');
  http.reply(res, body, status);
}

export const messageFor = (code: string): string =>
  Object.hasOwn(SIGN_IN_MESSAGES, code) ? SIGN_IN_MESSAGES[code] : 'Sign-in failed. Please try again.';

const GOOGLE_LOGO = `<svg class="logo" aria-hidden="true" viewBox="0 0 48 48" width="20" height="20"><path fill="#EA4335" d="M24 9.5c3.54 0 6.71 1.22 9.21 3.6l6.85-6.85C35.9 2.38 30.47 0 24 0 14.62 0 6.51 5.38 2.56 13.22l7.98 6.19C12.43 13.72 17.74 9.5 24 9.5z"/><path fill="#4285F4" d="M46.98 24.55c0-1.57-.15-3.09-.38-4.55H24v9.02h12.94c-.58 2.96-2.26 5.48-4.78 7.18l7.73 6c4.51-4.18 7.09-10.36 7.09-17.65z"/><path fill="#FBBC05" d="M10.53 28.59c-.48-1.45-.76-2.99-.76-4.59s.27-3.14.76-4.59l-7.98-6.19C.92 16.46 0 20.12 0 24c0 3.88.92 7.54 2.56 10.78l7.97-6.19z"/><path fill="#34A853" d="M24 48c6.48 0 11.93-2.13 15.89-5.81l-7.73-6c-2.15 1.45-4.92 2.3-8.16 2.3-6.26 0-11.57-4.22-13.47-9.91l-7.98 6.19C6.51 42.62 14.62 48 24 48z"/></svg>`;
const FACEBOOK_LOGO = `<svg class="logo" aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><path fill="#fff" d="M24 12.07C24 5.41 18.63 0 12 0S0 5.4 0 12.07C0 18.1 4.39 23.1 10.13 24v-8.44H7.08v-3.49h3.04V9.41c0-3.02 1.8-4.7 4.54-4.7 1.31 0 2.68.24 2.68.24v2.97h-1.5c-1.5 0-1.96.93-1.96 1.89v2.26h3.32l-.53 3.5h-2.8V24C19.62 23.1 24 18.1 24 12.07"/></svg>`;
// Sign in with Apple (Apple's Human Interface Guidelines): the Apple logo and "Sign in with Apple", white on black.
const APPLE_LOGO = `<svg class="logo" aria-hidden="true" viewBox="0 0 24 24" width="18" height="18"><path fill="#fff" d="M16.37 1.43c0 1.14-.42 2.2-1.25 3.1-.99 1.07-2.2 1.69-3.5 1.58a3.3 3.3 0 0 1-.03-.43c0-1.1.48-2.27 1.34-3.22.43-.48.97-.88 1.63-1.2.66-.31 1.28-.49 1.86-.52.02.23.02.46.02.69zm4.4 16.2c-.34.79-.74 1.52-1.2 2.19-.63.91-1.15 1.54-1.55 1.89-.62.57-1.28.86-1.99.88-.51 0-1.12-.15-1.84-.44-.72-.29-1.38-.44-1.99-.44-.64 0-1.32.15-2.05.44-.73.3-1.32.45-1.77.46-.68.03-1.36-.27-2.04-.9-.43-.38-.98-1.03-1.63-1.95-.7-.99-1.27-2.13-1.72-3.44C.51 14.9.27 13.54.27 12.22c0-1.51.33-2.81.98-3.9a5.76 5.76 0 0 1 2.05-2.08 5.5 5.5 0 0 1 2.77-.78c.54 0 1.26.17 2.14.5.88.33 1.45.5 1.7.5.18 0 .8-.2 1.86-.59 1-.36 1.84-.51 2.53-.45 1.88.15 3.28.89 4.22 2.22-1.68 1.02-2.51 2.44-2.49 4.27.02 1.42.53 2.61 1.54 3.55.46.44.97.77 1.53 1.01-.12.36-.25.7-.39 1.04z"/></svg>`;
// Microsoft's sign-in button guidance: the four-square logo, "Sign in with Microsoft", on white or dark grey.
const MICROSOFT_LOGO = `<svg class="logo" aria-hidden="true" viewBox="0 0 21 21" width="20" height="20"><rect x="1" y="1" width="9" height="9" fill="#f25022"/><rect x="11" y="1" width="9" height="9" fill="#7fba00"/><rect x="1" y="11" width="9" height="9" fill="#00a4ef"/><rect x="11" y="11" width="9" height="9" fill="#ffb900"/></svg>`;
const KEY_LOGO = `<svg class="logo" aria-hidden="true" viewBox="0 0 24 24" width="20" height="20"><path fill="currentColor" d="M7 14a2 2 0 1 1 0-4 2 2 0 0 1 0 4zm5.65-4A6 6 0 1 0 12.65 14H17v4h4v-4h2v-4H12.65z"/></svg>`;

function layout(title: string, body: string, opts: { csrf?: string; script?: string } = {}): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><link rel="icon" href="/assets/favicon.svg"><link rel="stylesheet" href="/assets/pages.css">${
    opts.csrf ? `<meta name="csrf-token" content="${escapeHtml(opts.csrf)}">` : ''
  }${opts.script ? `<script type="module" src="/assets/${opts.script}"></script>` : ''}</head>
<body>${body}</body></html>`;
}

function providerButton(p: EnabledProvider, href: string): string {
  const name = escapeHtml(p.name);
  if (p.type === 'google') return `<a class="btn btn-google" href="${href}">${GOOGLE_LOGO}<span>Continue with Google</span></a>`;
  if (p.type === 'facebook') return `<a class="btn btn-facebook" href="${href}">${FACEBOOK_LOGO}<span>Continue with Facebook</span></a>`;
  if (p.type === 'apple') return `<a class="btn btn-apple" href="${href}">${APPLE_LOGO}<span>Sign in with Apple</span></a>`;
  if (p.type === 'microsoft') return `<a class="btn btn-microsoft" href="${href}">${MICROSOFT_LOGO}<span>Sign in with Microsoft</span></a>`;
  if (p.type === 'github') return githubButton(href);
  if (p.id === 'demo') {
    return `<a class="btn btn-demo" href="${href}" aria-describedby="demo-note">${KEY_LOGO}<span>Continue with Demo</span></a>
<p class="note" id="demo-note"><span class="tag">demo: any username</span> A built-in test provider for trying this service; it is off in production.</p>`;
  }
  return `<a class="btn btn-oidc" href="${href}">${KEY_LOGO}<span>Continue with ${name}</span></a>`;
}

/** `hrefFor`: where a provider's button starts the sign-in (the OpenID Provider's interactions start their own). */
export function signInPage(
  providers: EnabledProvider[],
  host: string,
  errorCode?: string,
  hrefFor: (providerId: string) => string = (id) => `/session/login/${encodeURIComponent(id)}`,
): string {
  const buttons = providers.map((p) => `<li>${providerButton(p, hrefFor(p.id))}</li>`).join('\n');
  const alert =
    errorCode === undefined
      ? ''
      : `<div class="alert" role="alert" id="error"><strong>${escapeHtml(messageFor(errorCode))}</strong><br><small>Error code: ${escapeHtml(errorCode)}</small></div>`;
  return layout(
    'Sign in',
    `<main class="card narrow">
<h1>Sign in</h1>
<p class="lead">to ${escapeHtml(host)}</p>
${alert}
<ul class="providers">
${buttons || '<li>No sign-in provider is enabled.</li>'}
</ul>
</main>`,
  );
}

function nav(isAdmin: boolean, current: 'account' | 'admin'): string {
  const link = (href: string, label: string, here: boolean) => `<a href="${href}"${here ? ' aria-current="page"' : ''}>${label}</a>`;
  return `<header class="top"><nav aria-label="Main">${link('/account', 'Your account', current === 'account')}${
    isAdmin ? link('/admin', 'Admin console', current === 'admin') : ''
  }</nav><button type="button" id="sign-out" class="link">Sign out</button></header>`;
}

export interface Notice {
  text: string;
  error: boolean;
}

const status = (notice?: Notice) =>
  `<div id="status" role="status" aria-live="polite"${notice?.error ? ' class="error"' : ''}>${notice ? escapeHtml(notice.text) : ''}</div>`;

/** `apps`: the OpenID Provider is on, so the page lists "Apps with access" (GET /me/apps). */
export function accountPage(csrf: string, isAdmin: boolean, providers: EnabledProvider[], notice?: Notice, apps = false): string {
  const options = providers.map((p) => `<option value="${escapeHtml(p.id)}">${escapeHtml(p.name)}</option>`).join('');
  return layout(
    'Your account',
    `${nav(isAdmin, 'account')}
<main class="card">
<h1>Your account</h1>
${status(notice)}
<section aria-labelledby="profile-title"><h2 id="profile-title">Profile</h2><dl id="profile" class="facts"></dl></section>
<section aria-labelledby="identities-title"><h2 id="identities-title">Sign-in methods</h2>
<ul id="identities" class="rows"></ul>
<form id="link-form" class="inline"><label for="link-provider">Link another provider</label>
<select id="link-provider" name="provider" aria-describedby="link-note">${options}</select><button type="submit">Link</button></form>
<p id="link-note" class="note" hidden>Every provider is linked already; you can still link another account of one of them.</p></section>
<section aria-labelledby="sessions-title"><h2 id="sessions-title">Active sessions</h2>
<ul id="sessions" class="rows"></ul>
<button type="button" id="sign-out-everywhere" class="danger">Sign out everywhere</button></section>
${
  apps
    ? `<section aria-labelledby="apps-title"><h2 id="apps-title">Apps with access</h2>
<p class="note">Applications you allowed to use your account. Revoking one signs it out and it asks again next time.</p>
<ul id="apps" class="rows"></ul></section>`
    : ''
}
</main>`,
    { csrf, script: 'account.js' },
  );
}

/**
 * The admin console's clients (admin-clients.js): API clients and the OpenID Provider's, with their RFC 7591 metadata
 * (shared/docs/http-api.md). Grant types and the authentication method are chosen at creation only, as in the API.
 */
const clientsSection = `<section aria-labelledby="clients-title"><h2 id="clients-title">Clients</h2>
<table class="grid"><caption class="sr-only">Clients</caption><thead><tr><th scope="col">Name</th><th scope="col">Client id</th><th scope="col">Grant types</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody id="clients"></tbody></table>
<form id="client-form" class="stacked" aria-labelledby="client-form-title"><h3 id="client-form-title">New client</h3>
<label for="client-name">Name</label><input id="client-name" name="name" required maxlength="200">
<label for="client-roles">Roles (comma-separated)</label><input id="client-roles" name="roles">
<label for="client-scopes">API scopes (comma-separated)</label><input id="client-scopes" name="scopes">
<label for="client-redirect-uris">Redirect URIs (one a line; exact match)</label><textarea id="client-redirect-uris" name="redirect_uris" rows="2"></textarea>
<label for="client-post-logout-uris">Post-logout redirect URIs (one a line)</label><textarea id="client-post-logout-uris" name="post_logout_redirect_uris" rows="2"></textarea>
<fieldset id="client-grant-types"><legend>Grant types (none ticked: code and refresh with redirect URIs, client credentials without)</legend>
<label><input type="checkbox" name="grant_types" value="authorization_code"> authorization_code</label>
<label><input type="checkbox" name="grant_types" value="refresh_token"> refresh_token</label>
<label><input type="checkbox" name="grant_types" value="client_credentials"> client_credentials</label></fieldset>
<label for="client-auth-method">Token endpoint authentication</label><select id="client-auth-method" name="token_endpoint_auth_method">
<option value="client_secret_basic">client_secret_basic</option><option value="client_secret_post">client_secret_post</option><option value="none">none (public client, PKCE)</option></select>
<label for="client-backchannel">Back-channel logout URI</label><input id="client-backchannel" name="backchannel_logout_uri" type="url">
<label class="check"><input type="checkbox" id="client-first-party" name="first_party"> First party (no consent screen)</label>
<div class="actions"><button type="submit" id="client-submit">Create client</button><button type="button" id="client-cancel" hidden>Cancel</button></div>
</form>
<p id="client-secret" class="alert" hidden></p>
</section>`;

export function adminPage(csrf: string, apps = false): string {
  return layout(
    'Admin console',
    `${nav(true, 'admin')}
<main class="card wide">
<h1>Admin console</h1>
${status()}
<section aria-labelledby="users-title"><h2 id="users-title">Users</h2>
<form id="search" class="inline" role="search"><label for="query">Find users</label>
<input id="query" name="query" type="search" placeholder="email, name or provider subject" autocomplete="off"><button type="submit">Search</button></form>
<table class="grid"><caption class="sr-only">Users</caption><thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Roles</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody id="users"></tbody></table>
<button type="button" id="more-users" hidden>Next page</button></section>
<section id="user" aria-labelledby="user-title" hidden><h2 id="user-title" tabindex="-1">User</h2>
<dl id="user-facts" class="facts"></dl>
<h3>Identities</h3><ul id="user-identities" class="rows"></ul>
${apps ? '<h3>Apps with access</h3><ul id="user-apps" class="rows"></ul>\n' : ''}<form id="roles-form" class="inline"><label for="roles">Assigned roles (comma-separated)</label><input id="roles" name="roles"><button type="submit">Save roles</button></form>
<div class="actions"><button type="button" id="toggle-disabled" class="danger"></button><button type="button" id="end-sessions">End all sessions</button></div>
<form id="merge-form" class="inline"><label for="merge-source">Merge another account into this one (its user id)</label><input id="merge-source" name="source" pattern="[0-9a-fA-F-]{36}"><button type="submit">Merge</button></form>
</section>
${clientsSection}
<section aria-labelledby="audit-title"><h2 id="audit-title">Audit trail</h2>
<form id="audit-filter" class="inline"><label for="audit-type">Event type</label><input id="audit-type" name="type" placeholder="e.g. sign_in">
<label for="audit-user">User id</label><input id="audit-user" name="userId"><button type="submit">Filter</button></form>
<table class="grid"><caption class="sr-only">Audit events</caption><thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">User</th><th scope="col">Actor</th><th scope="col">Provider</th><th scope="col">Reason</th></tr></thead>
<tbody id="audit"></tbody></table>
<button type="button" id="more-audit" hidden>Next page</button></section>
</main>`,
    { csrf, script: 'admin.js' },
  );
}

export function forbiddenPage(csrf: string): string {
  return layout(
    'Not allowed',
    `${nav(false, 'admin')}<main class="card narrow"><h1>Not allowed</h1><p>The admin console is for administrators.</p><p><a href="/account">Back to your account</a></p></main>`,
    { csrf, script: 'common.js' },
  );
}
