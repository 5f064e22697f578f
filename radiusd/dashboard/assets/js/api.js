// The JSON admin API (/v1/...), called with the dashboard's session
// cookie and, on every change, its CSRF token (README "Dashboard").
let csrf = '';

export class ApiError extends Error {
  constructor(status, body) {
    super(body && body.error ? body.error : 'HTTP ' + status);
    this.status = status;
    this.field = body && body.field;
    this.problems = body && body.problems;
    this.body = body;
  }
}

// start learns the CSRF token; false (after sending the browser to the
// sign-in page) when a sign-in is needed.
export async function start() {
  const r = await fetch('/ui/session', {credentials: 'same-origin', cache: 'no-store'});
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) {
    location.href = '/ui/signin';
    return null;
  }
  csrf = body.csrf || '';
  return body;
}

export async function api(method, path, body) {
  const opts = {method, credentials: 'same-origin', cache: 'no-store', headers: {}};
  if (method !== 'GET' && method !== 'HEAD' && csrf) opts.headers['X-CSRF-Token'] = csrf;
  if (body !== undefined) {
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  if (r.status === 401) {
    location.href = '/ui/signin';
    throw new ApiError(401, {error: 'signed out'});
  }
  if (r.status === 204) return null;
  const ct = r.headers.get('Content-Type') || '';
  const data = ct.includes('json') ? await r.json().catch(() => null) : await r.text();
  if (!r.ok) throw new ApiError(r.status, typeof data === 'object' ? data : {error: String(data).trim()});
  return data;
}

export async function signOut() {
  await fetch('/ui/signout', {method: 'POST', credentials: 'same-origin', headers: {'X-CSRF-Token': csrf}});
  location.href = '/ui/signin';
}
