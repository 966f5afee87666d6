/**
 * The home page's script: PKCE towards our own token endpoint (the verifier waits in sessionStorage for the one
 * redirect), code exchange, then /me and /me/claims. Tokens stay in memory; the code leaves the address bar at once.
 */
export const HOME_JS = `
const $ = (id) => document.getElementById(id);
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');

async function startLogin(event) {
  event.preventDefault();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem('pkce_verifier', verifier);
  const url = new URL(event.currentTarget.href);
  url.searchParams.set('returnTo', location.origin + '/');
  url.searchParams.set('code_challenge', challenge);
  url.searchParams.set('code_challenge_method', 'S256');
  location.assign(url);
}

async function finishLogin(code) {
  const verifier = sessionStorage.getItem('pkce_verifier') ?? undefined;
  sessionStorage.removeItem('pkce_verifier');
  const res = await fetch('/auth/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'authorization_code', code, code_verifier: verifier }),
  });
  const body = await res.json();
  if (!res.ok) throw new Error(body.error_description ?? body.error);
  return body;
}

async function show(tokens) {
  const auth = { authorization: 'Bearer ' + tokens.access_token };
  const [me, claims] = await Promise.all([fetch('/me', { headers: auth }).then((r) => r.json()), fetch('/me/claims', { headers: auth }).then((r) => r.json())]);
  const who = $('who');
  for (const [k, v] of [['Name', me.name], ['Email', me.email + (me.emailVerified ? ' (verified)' : '')], ['Roles', me.roles.join(', ')], ['Signed in with', me.identities.map((i) => i.provider).join(', ')]]) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v ?? '';
    who.append(dt, dd);
  }
  $('claims').textContent = JSON.stringify(claims, null, 2);
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  $('logout').addEventListener('click', async () => {
    await fetch('/auth/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refresh_token: tokens.refresh_token }) });
    location.assign('/');
  });
}

for (const a of document.querySelectorAll('a[data-provider]')) a.addEventListener('click', startLogin);
const params = new URLSearchParams(location.search);
history.replaceState(null, '', '/');
if (params.get('error')) {
  $('error').textContent = params.get('error_description') || params.get('error');
  $('error').hidden = false;
} else if (params.get('code')) {
  finishLogin(params.get('code')).then(show).catch((e) => { $('error').textContent = e.message; $('error').hidden = false; });
}
`;

export const HOME_CSS = `
body{font:16px/1.5 system-ui,sans-serif;color:#1a1a1a;margin:0}
main{max-width:40rem;margin:3rem auto;padding:0 1rem}
.providers{list-style:none;padding:0}.providers li{margin:.6rem 0}
.button{display:inline-block;padding:.6rem 1.2rem;border:1px solid #1a1a1a;border-radius:6px;color:#1a1a1a;text-decoration:none;min-width:16rem}
.button:focus,.button:hover{background:#1a1a1a;color:#fff}
.tag{font-size:.8rem;background:#fff4ce;border:1px solid #e0c060;border-radius:4px;padding:.1rem .4rem}
.error{color:#a00;background:#fdeaea;padding:.6rem;border-radius:6px}
pre{background:#f4f4f4;padding:1rem;overflow:auto;border-radius:6px}
dt{font-weight:600}dd{margin:0 0 .5rem}
button{font:inherit;padding:.5rem 1rem}
`;
