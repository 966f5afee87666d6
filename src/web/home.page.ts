import type { EnabledProvider } from '../auth/providers/provider-registry.js';

import { escapeHtml } from '../common/html.js';

/** The plain built-in page: provider buttons; after sign-in, who you are and your access token's claims. */
export function homePage(providers: EnabledProvider[]): string {
  const buttons = providers
    .map(
      (p) =>
        `<li><a class="button" data-provider="${escapeHtml(p.id)}" href="/auth/${encodeURIComponent(p.id)}/login">Continue with ${escapeHtml(p.name)}</a>${
          p.id === 'demo' ? ' <span class="tag">demo: any username</span>' : ''
        }</li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title><link rel="stylesheet" href="/assets/home.css"></head>
<body><main>
<h1>Sign in</h1>
<p id="error" class="error" role="alert" hidden></p>
<section id="signed-out"><ul class="providers">
${buttons || '<li>No sign-in provider is enabled.</li>'}
</ul></section>
<section id="signed-in" hidden>
<h2>You are signed in</h2>
<dl id="who"></dl>
<h3>Your access token's claims</h3>
<pre id="claims"></pre>
<button id="logout" type="button">Sign out</button>
</section>
</main><script type="module" src="/assets/home.js"></script></body></html>`;
}
