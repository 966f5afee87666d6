// Shared by the account page and the admin console: API calls with the page's cookie session and CSRF token.
const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? '';

export class ApiError extends Error {
  constructor(status, body) {
    super(
      body?.error_description ?? body?.error ?? `The service did not answer as expected (HTTP ${status}). Please try again in a moment.`,
    );
    this.status = status;
    this.code = body?.error;
  }
}

/** JSON over fetch; a 401 means the session has ended, so the page goes back to sign-in. */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON: a proxy's or load balancer's error page, say (an HTML 502). Its status is all there is to go on.
    if (res.ok) throw new ApiError(res.status);
  }
  if (res.status === 401) {
    location.assign('/?error=session_expired');
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** Builds an element: el('li', { class: 'x', text: 'y' }, child, …). Text is always set as text, never as HTML. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else if (k === 'on') for (const [event, fn] of Object.entries(v)) node.addEventListener(event, fn);
    else node.setAttribute(k, v === true ? '' : v);
  }
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

export function say(message, isError = false) {
  const status = document.getElementById('status');
  if (!status) return;
  status.className = isError ? 'error' : '';
  status.textContent = message;
}

export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

/** Runs an action, reporting its outcome in the status region. */
export async function act(fn, done) {
  try {
    await fn();
    if (done) say(done);
  } catch (e) {
    if (e.status !== 401) say(e.message, true);
  }
}

document.getElementById('sign-out')?.addEventListener('click', () =>
  act(async () => {
    await api('POST', '/session/logout');
    location.assign('/');
  }),
);
