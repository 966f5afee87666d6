// The admin console: find users (paged), act on one (identities, roles, disable, sessions, merge), read the audit trail.
import { act, api, el, say, when } from './common.js';
import './admin-clients.js';

const $ = (id) => document.getElementById(id);
// Each list keeps the filter it was found with beside its cursor: "Next page" continues the list shown, whatever has
// been typed in the form since (a cursor only means something with its own query). A response to a request that a
// newer one has replaced (a search while "Next page" loads, a double click) is dropped.
let usersListed = { query: '', cursor: null, request: 0 };
let auditListed = { type: '', userId: '', cursor: null, request: 0 };
let shown = null;

async function searchUsers(more = false) {
  const query = more ? usersListed.query : $('query').value.trim();
  const request = ++usersListed.request;
  const params = new URLSearchParams({ limit: '20' });
  if (query) params.set('query', query);
  if (more && usersListed.cursor) params.set('cursor', usersListed.cursor);
  const page = await api('GET', `/admin/users?${params}`);
  if (request !== usersListed.request) return;
  const rows = page.items.map((u) =>
    el(
      'tr',
      {},
      el('td', { text: u.email ?? '—' }),
      el('td', { text: u.name ?? '—' }),
      el('td', { text: u.roles.join(', ') }),
      el('td', { text: u.disabled ? 'disabled' : 'active' }),
      el(
        'td',
        {},
        el('button', {
          type: 'button',
          text: 'Open',
          'aria-label': `Open ${u.email ?? u.name ?? u.id}`,
          on: { click: () => act(() => openUser(u.id)) },
        }),
      ),
    ),
  );
  if (more) $('users').append(...rows);
  else $('users').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '5', text: 'No users match.' }))]));
  usersListed = { query, cursor: page.nextCursor, request };
  $('more-users').hidden = !page.nextCursor;
}

async function openUser(id, focus = true) {
  const u = await api('GET', `/admin/users/${id}`);
  shown = u;
  $('user').hidden = false;
  $('user-title').textContent = u.email ?? u.name ?? u.id;
  const facts = [
    ['User id', u.id],
    ['Name', u.name ?? '—'],
    ['Email', u.email ? `${u.email}${u.emailVerified ? ' (verified)' : ''}` : '—'],
    ['Roles', `${u.roles.join(', ')}${u.providerRoles.length ? ` (from providers: ${u.providerRoles.join(', ')})` : ''}`],
    ['Status', u.disabled ? 'disabled' : 'active'],
    ['Active sessions', String(u.sessions.length)],
    ['Created', when(u.createdAt)],
  ];
  $('user-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
  $('user-identities').replaceChildren(
    ...u.identities.map((i) =>
      el(
        'li',
        {},
        el(
          'span',
          {},
          el('strong', { text: i.provider }),
          ` ${i.email ?? i.subject}`,
          el('br'),
          el('span', { class: 'why', text: `last sign-in ${when(i.lastSignInAt)}` }),
        ),
        el('button', {
          type: 'button',
          class: 'danger',
          text: 'Remove',
          disabled: u.identities.length === 1,
          title: u.identities.length === 1 ? 'The last identity cannot be removed' : undefined,
          'aria-label': `Remove identity ${i.provider} ${i.email ?? i.subject}`,
          on: {
            click: () =>
              confirm(`Remove the ${i.provider} identity ${i.email ?? i.subject}?`) &&
              act(async () => {
                await api('DELETE', `/admin/users/${u.id}/identities/${i.id}`);
                await openUser(u.id, false);
              }, 'Identity removed.'),
          },
        }),
      ),
    ),
  );
  // With the OpenID Provider on: the apps this person allowed, each revocable for them (its sessions end, audited with
  // the admin as actor; issue 17: what a client obtains is visible and revocable from the admin console too).
  const appsList = $('user-apps');
  if (appsList) {
    const apps = await api('GET', `/admin/users/${u.id}/apps`);
    appsList.replaceChildren(
      ...(apps.length
        ? apps.map((a) =>
            el(
              'li',
              {},
              el(
                'span',
                {},
                el('strong', { text: a.name ?? a.clientId }),
                ` ${a.scopes.join(' ')}`,
                el('br'),
                el('span', {
                  class: 'why',
                  text: `allowed ${when(a.firstGrantedAt)}${a.lastUsedAt ? ` · last used ${when(a.lastUsedAt)}` : ''}`,
                }),
              ),
              el('button', {
                type: 'button',
                class: 'danger',
                text: 'Revoke access',
                'aria-label': `Revoke access of ${a.name ?? a.clientId}`,
                on: {
                  click: () =>
                    confirm(`Revoke the access of ${a.name ?? a.clientId}? Its sessions for this person end.`) &&
                    act(async () => {
                      await api('DELETE', `/admin/users/${u.id}/apps/${encodeURIComponent(a.clientId)}`);
                      await openUser(u.id, false);
                    }, 'Access revoked.'),
                },
              }),
            ),
          )
        : [el('li', { class: 'why', text: 'No application has access to this account.' })]),
    );
  }
  $('roles').value = u.assignedRoles.join(', ');
  $('toggle-disabled').textContent = u.disabled ? 'Enable user' : 'Disable user';
  if (focus) $('user-title').focus();
  await loadAudit(false, u.id);
}

async function loadAudit(more = false, forUser) {
  if (forUser !== undefined) $('audit-user').value = forUser;
  const { type, userId } = more ? auditListed : { type: $('audit-type').value.trim(), userId: $('audit-user').value.trim() };
  const request = ++auditListed.request;
  const params = new URLSearchParams({ limit: '25' });
  if (type) params.set('type', type);
  if (userId) params.set('userId', userId);
  if (more && auditListed.cursor) params.set('cursor', auditListed.cursor);
  const page = await api('GET', `/admin/audit?${params}`);
  if (request !== auditListed.request) return;
  const rows = page.items.map((e) =>
    el(
      'tr',
      {},
      el('td', { text: when(e.at) }),
      el('td', { text: e.type }),
      el('td', { text: e.userId ?? '—' }),
      el('td', { text: e.actorId ?? '—' }),
      el('td', { text: e.provider ?? '—' }),
      el('td', { text: e.reason ?? '—' }),
    ),
  );
  if (more) $('audit').append(...rows);
  else $('audit').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '6', text: 'No events.' }))]));
  auditListed = { type, userId, cursor: page.nextCursor, request };
  $('more-audit').hidden = !page.nextCursor;
}

$('search').addEventListener('submit', (e) => {
  e.preventDefault();
  act(() => searchUsers());
});
$('more-users').addEventListener('click', () => act(() => searchUsers(true)));
$('audit-filter').addEventListener('submit', (e) => {
  e.preventDefault();
  act(() => loadAudit());
});
$('more-audit').addEventListener('click', () => act(() => loadAudit(true)));

$('roles-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const roles = $('roles')
    .value.split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  act(async () => {
    await api('PATCH', `/admin/users/${shown.id}`, { roles });
    await openUser(shown.id, false);
  }, 'Roles saved.');
});

$('toggle-disabled').addEventListener('click', () => {
  const disable = !shown.disabled;
  if (disable && !confirm('Disable this user? Every session ends at once.')) return;
  act(
    async () => {
      await api('PATCH', `/admin/users/${shown.id}`, { disabled: disable });
      await openUser(shown.id, false);
      await searchUsers();
    },
    disable ? 'User disabled; their sessions have ended.' : 'User enabled.',
  );
});

$('end-sessions').addEventListener('click', () =>
  act(async () => {
    const { revoked } = await api('POST', `/admin/users/${shown.id}/sessions/revoke`);
    await openUser(shown.id, false);
    say(`${revoked} session(s) ended.`);
  }),
);

$('merge-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const sourceUserId = $('merge-source').value.trim();
  if (!confirm(`Move every identity and role of ${sourceUserId} into this user, then delete ${sourceUserId}?`)) return;
  act(async () => {
    await api('POST', `/admin/users/${shown.id}/merge`, { sourceUserId });
    $('merge-source').value = '';
    await openUser(shown.id, false);
    await searchUsers();
  }, 'Accounts merged.');
});

act(async () => {
  await searchUsers();
  await loadAudit();
});
