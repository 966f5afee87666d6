// The account page: profile, sign-in methods (link, unlink), active sessions (sign out one, or everywhere; an app's
// session under the browser session it was signed in through), and, with the OpenID Provider on, apps with access.
import { act, api, el, when } from './common.js';

const providerNames = new Map([...document.querySelectorAll('#link-provider option')].map((o) => [o.value, o.textContent]));
// The notice of a finished link or a failed one is on the page already; the address bar loses its query.
history.replaceState(null, '', '/account');

function device(userAgent) {
  if (!userAgent) return 'Unknown device';
  const browser = /(Edg|Chrome|Firefox|Safari)\/[\d.]+/.exec(userAgent)?.[1] ?? 'Browser';
  const os = /(Windows|Mac OS X|Android|iPhone|Linux)/.exec(userAgent)?.[1] ?? '';
  return `${browser === 'Edg' ? 'Edge' : browser}${os ? ` on ${os.replace('Mac OS X', 'macOS')}` : ''}`;
}

/** What each scope gives an app, as the consent page said it. */
const SCOPES = {
  openid: 'your identity',
  profile: 'name and picture',
  email: 'email address',
  roles: 'roles',
  offline_access: 'access while you are away',
};

function appName(client) {
  return client.name ?? client.clientId;
}

function sessionRow(s, children = []) {
  const label = s.client ? `${appName(s.client)}` : device(s.userAgent);
  const apps = children.filter((c) => c.client).map((c) => appName(c.client));
  return el(
    'li',
    {},
    el(
      'span',
      {},
      el('strong', { text: label }),
      s.current ? el('span', { class: 'current', text: 'this device' }) : undefined,
      el('br'),
      el('span', {
        class: 'why',
        text: `${s.client ? `${device(s.userAgent)} · ` : ''}${s.ip ?? 'unknown address'} · last used ${when(s.lastUsedAt)}`,
      }),
      apps.length ? el('br') : undefined,
      apps.length ? el('span', { class: 'why', text: `→ signed in to ${apps.join(', ')}` }) : undefined,
    ),
    el('button', {
      type: 'button',
      text: s.current ? 'Sign out this device' : 'Sign out',
      // Another device's button names it: a screen reader lists "Sign out" beside the header's own.
      'aria-label': s.current ? undefined : `Sign out ${label}, last used ${when(s.lastUsedAt)}`,
      on: {
        click: () =>
          act(async () => {
            await api('DELETE', `/me/sessions/${s.id}`);
            if (s.current) location.assign('/');
            else await load();
          }, 'Signed out on that device.'),
      },
    }),
  );
}

/** Browser sessions first, each followed by the app sessions signed in through it ("Chrome on Linux → Wiki, Grafana"). */
function sessionRows(sessions) {
  const ids = new Set(sessions.map((s) => s.id));
  const childrenOf = new Map();
  for (const s of sessions) {
    if (s.browserSessionId && ids.has(s.browserSessionId)) {
      if (!childrenOf.has(s.browserSessionId)) childrenOf.set(s.browserSessionId, []);
      childrenOf.get(s.browserSessionId).push(s);
    }
  }
  return sessions
    .filter((s) => !(s.browserSessionId && ids.has(s.browserSessionId)))
    .flatMap((s) => {
      const children = childrenOf.get(s.id) ?? [];
      return [sessionRow(s, children), ...children.map((c) => sessionRow(c))];
    });
}

function appRows(apps) {
  if (!apps.length) return [el('li', { class: 'why', text: 'No application has access to your account.' })];
  return apps.map((a) =>
    el(
      'li',
      {},
      el(
        'span',
        {},
        el('strong', { text: a.name ?? a.clientId }),
        el('br'),
        el('span', { class: 'why', text: a.scopes.map((x) => SCOPES[x] ?? x).join(', ') }),
        el('br'),
        el('span', { class: 'why', text: `allowed ${when(a.firstGrantedAt)}${a.lastUsedAt ? ` · last used ${when(a.lastUsedAt)}` : ''}` }),
      ),
      el('button', {
        type: 'button',
        text: 'Revoke access',
        'aria-label': `Revoke access of ${a.name ?? a.clientId}`,
        on: {
          click: () =>
            act(async () => {
              await api('DELETE', `/me/apps/${encodeURIComponent(a.clientId)}`);
              await load();
            }, 'Access revoked.'),
        },
      }),
    ),
  );
}

async function load() {
  // The section is on the page only when the OpenID Provider is on (otherwise /me/apps does not exist).
  const appsList = document.getElementById('apps');
  const [me, sessions, apps] = await Promise.all([
    api('GET', '/me'),
    api('GET', '/me/sessions'),
    appsList ? api('GET', '/me/apps') : Promise.resolve(undefined),
  ]);
  if (appsList) appsList.replaceChildren(...appRows(apps));
  const facts = [
    ['Name', me.name ?? '—'],
    ['Email', me.email ? `${me.email}${me.emailVerified ? ' (verified)' : ' (not verified)'}` : '—'],
    ['Roles', me.roles.join(', ')],
    ['User id', me.id],
  ];
  document.getElementById('profile').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));

  const only = me.identities.length === 1;
  document.getElementById('identities').replaceChildren(
    ...me.identities.map((i) =>
      el(
        'li',
        {},
        el(
          'span',
          {},
          el('strong', { text: providerNames.get(i.provider) ?? i.provider }),
          ` ${i.email ?? i.subject}`,
          el('br'),
          el('span', { class: 'why', text: `linked ${when(i.linkedAt)}` }),
        ),
        el(
          'span',
          {},
          only ? el('span', { class: 'why', id: `why-${i.id}`, text: 'Your only sign-in method cannot be removed. ' }) : undefined,
          el('button', {
            type: 'button',
            text: 'Unlink',
            disabled: only,
            'aria-describedby': only ? `why-${i.id}` : undefined,
            'aria-label': `Unlink ${providerNames.get(i.provider) ?? i.provider} ${i.email ?? i.subject}`,
            on: {
              click: () =>
                act(async () => {
                  await api('DELETE', `/me/identities/${i.id}`);
                  await load();
                }, 'Sign-in method removed.'),
            },
          }),
        ),
      ),
    ),
  );

  // Offer first a provider not linked yet. Linked ones stay offered: another account at the same provider may be linked.
  const linked = new Set(me.identities.map((i) => i.provider));
  const select = document.getElementById('link-provider');
  const unlinked = [...select.options].find((o) => !linked.has(o.value));
  if (unlinked) select.value = unlinked.value;
  document.getElementById('link-note').hidden = Boolean(unlinked);

  document.getElementById('sessions').replaceChildren(...sessionRows(sessions));
}

document.getElementById('link-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const provider = new FormData(event.target).get('provider');
  act(async () => location.assign((await api('POST', `/session/link/${encodeURIComponent(provider)}`)).url));
});

document.getElementById('sign-out-everywhere').addEventListener('click', () => {
  if (!confirm('Sign out on every device, this one included?')) return;
  act(async () => {
    await api('DELETE', '/me/sessions');
    location.assign('/');
  });
});

act(load);
