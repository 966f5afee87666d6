// The admin console's clients: list, create (with the OpenID Provider's RFC 7591 metadata), edit, disable, delete.
// Grant types and the authentication method are set at creation only (PATCH /admin/clients/:id does not change them).
import { act, api, el, say } from './common.js';

const $ = (id) => document.getElementById(id);
const form = $('client-form');
let editing = null;

const lines = (text) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
const csv = (text) =>
  text
    .split(',')
    .map((l) => l.trim())
    .filter(Boolean);
const grantBoxes = () => [...form.querySelectorAll('input[name="grant_types"]')];

async function listClients() {
  const clients = await api('GET', '/admin/clients');
  const rows = clients.map((c) =>
    el(
      'tr',
      {},
      el('td', { text: c.name }),
      el('td', {}, el('code', { text: c.client_id })),
      el('td', { text: c.grant_types.join(', ') }),
      el('td', { text: c.disabled ? 'disabled' : 'active' }),
      el(
        'td',
        {},
        el('button', { type: 'button', text: 'Edit', 'aria-label': `Edit client ${c.name}`, on: { click: () => edit(c) } }),
        el('button', {
          type: 'button',
          class: c.disabled ? undefined : 'danger',
          text: c.disabled ? 'Enable' : 'Disable',
          'aria-label': `${c.disabled ? 'Enable' : 'Disable'} client ${c.name}`,
          on: { click: () => toggle(c) },
        }),
        el('button', {
          type: 'button',
          class: 'danger',
          text: 'Delete',
          'aria-label': `Delete client ${c.name}`,
          on: { click: () => remove(c) },
        }),
      ),
    ),
  );
  $('clients').replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '5', text: 'No clients yet.' }))]));
}

/** Fills the form with a client's fields; what cannot change after creation is shown but not editable. */
function edit(c) {
  editing = c;
  $('client-form-title').textContent = `Edit ${c.name}`;
  $('client-name').value = c.name;
  $('client-roles').value = c.roles.join(', ');
  $('client-scopes').value = c.scopes.join(', ');
  $('client-redirect-uris').value = c.redirect_uris.join('\n');
  $('client-post-logout-uris').value = c.post_logout_redirect_uris.join('\n');
  for (const box of grantBoxes()) {
    box.checked = c.grant_types.includes(box.value);
    box.disabled = true;
  }
  $('client-auth-method').value = c.token_endpoint_auth_method;
  $('client-auth-method').disabled = true;
  $('client-backchannel').value = c.backchannel_logout_uri ?? '';
  $('client-first-party').checked = c.first_party;
  $('client-submit').textContent = 'Save client';
  $('client-cancel').hidden = false;
  $('client-secret').hidden = true;
  $('client-name').focus();
}

function reset() {
  editing = null;
  form.reset();
  for (const box of grantBoxes()) box.disabled = false;
  $('client-auth-method').disabled = false;
  $('client-form-title').textContent = 'New client';
  $('client-submit').textContent = 'Create client';
  $('client-cancel').hidden = true;
}

/** The form as the API takes it: RFC 7591 names, empty fields left out (the service applies its defaults). */
function fields() {
  const body = {
    name: $('client-name').value.trim(),
    roles: csv($('client-roles').value),
    scopes: csv($('client-scopes').value),
    redirect_uris: lines($('client-redirect-uris').value),
    post_logout_redirect_uris: lines($('client-post-logout-uris').value),
    first_party: $('client-first-party').checked,
  };
  const backchannel = $('client-backchannel').value.trim();
  if (backchannel) body.backchannel_logout_uri = backchannel;
  return body;
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  const body = fields();
  if (editing) {
    const id = editing.client_id;
    act(async () => {
      await api('PATCH', `/admin/clients/${id}`, body);
      reset();
      await listClients();
    }, 'Client saved.');
    return;
  }
  const grants = grantBoxes()
    .filter((b) => b.checked)
    .map((b) => b.value);
  if (grants.length) body.grant_types = grants;
  body.token_endpoint_auth_method = $('client-auth-method').value;
  if (!body.redirect_uris.length) delete body.redirect_uris;
  if (!body.post_logout_redirect_uris.length) delete body.post_logout_redirect_uris;
  act(async () => {
    const created = await api('POST', '/admin/clients', body);
    reset();
    await listClients();
    const secret = $('client-secret');
    secret.hidden = false;
    secret.replaceChildren(
      `Client ${created.name}: client_id `,
      el('code', { text: created.client_id }),
      ...(created.client_secret
        ? ['; client_secret ', el('code', { text: created.client_secret }), ' (shown this once: copy it now).']
        : ['; a public client, without a secret.']),
    );
  }, 'Client created.');
});

$('client-cancel').addEventListener('click', reset);

function toggle(c) {
  const disable = !c.disabled;
  if (disable && !confirm(`Disable ${c.name}? Its tokens stop at once, and the sessions it holds for people end.`)) return;
  act(
    async () => {
      await api('PATCH', `/admin/clients/${c.client_id}`, { disabled: disable });
      await listClients();
    },
    disable ? 'Client disabled; its tokens and sessions have ended.' : 'Client enabled.',
  );
}

function remove(c) {
  if (!confirm(`Delete ${c.name}? Its tokens stop at once, and the sessions it holds for people end.`)) return;
  act(async () => {
    await api('DELETE', `/admin/clients/${c.client_id}`);
    if (editing?.client_id === c.client_id) reset();
    await listClients();
  }, 'Client deleted.');
}

act(listClients).catch(() => say('Clients could not be loaded.', true));
