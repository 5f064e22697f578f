// The dashboard: a hash router over views, and the live refresh (polling
// every few seconds, paused while the tab is hidden).
import {start, signOut, ApiError} from './api.js';
import {h, replace} from './dom.js';
import * as overview from './overview.js';
import * as devices from './devices.js';
import * as device from './device.js';
import * as nas from './nas.js';
import * as vouchers from './vouchers.js';

const REFRESH_MS = 3000;

const routes = [
  [/^#?\/?$/, overview, 'overview'],
  [/^#\/devices$/, devices, 'devices'],
  [/^#\/device\/([0-9a-fA-F:.-]+)$/, device, 'devices'],
  [/^#\/nas$/, nas, 'nas'],
  [/^#\/plans$/, vouchers.plans, 'plans'],
  [/^#\/vouchers$/, vouchers.batches, 'vouchers'],
  [/^#\/batch\/([A-Za-z0-9_-]+)$/, vouchers.batch, 'vouchers'],
];

let current = null;   // {view, refresh}
let timer = 0;
let lastOK = 0;
let routed = false;
const live = () => document.getElementById('live');

function route() {
  const [path, query] = location.hash.split('?');
  for (const [re, view, nav] of routes) {
    const m = re.exec(path || '#/');
    if (!m) continue;
    for (const a of document.querySelectorAll('[data-nav]')) {
      if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    const main = document.getElementById('main');
    replace(main);
    const params = new URLSearchParams(query || '');
    current = view.mount(main, m.slice(1).map(decodeURIComponent), params) || {};
    document.title = (main.querySelector('h1')?.textContent || 'Dashboard') + ' · hsradius';
    // After a page change, focus goes to the new content (screen readers
    // read it); on the first load it stays at the top, before the skip link.
    if (routed) main.focus({preventScroll: true});
    routed = true;
    refresh();
    return;
  }
  replace(document.getElementById('main'), h('h1', {}, 'Not found'), h('p', {}, h('a', {href: '#/'}, 'Back to the overview')));
  current = null;
}

// refresh runs the view's refresh, then schedules the next one; one at a
// time: a call while one runs (a page change, the tab shown) runs after it.
let running = false;
let again = false;
async function refresh() {
  clearTimeout(timer);
  if (running) {
    again = true;
    return;
  }
  if (document.hidden) {
    live().textContent = 'Paused while hidden';
    return;
  }
  const mine = current;
  if (mine && mine.refresh) {
    running = true;
    try {
      await mine.refresh();
      lastOK = Date.now();
      live().textContent = 'Live · updated ' + new Date(lastOK).toLocaleTimeString();
      live().className = '';
    } catch (e) {
      live().textContent = (e instanceof ApiError ? e.message : 'Cannot reach radiusd') + ' · retrying';
      live().className = 'warn';
    } finally {
      running = false;
    }
  }
  if (again) {
    again = false;
    refresh();
    return;
  }
  if (mine === current && mine && mine.refresh) timer = setTimeout(refresh, mine.every || REFRESH_MS);
}

document.addEventListener('visibilitychange', refresh);
window.addEventListener('hashchange', route);

const s = await start();
if (s) {
  const out = document.getElementById('signout');
  if (s.token_required) {
    out.hidden = false;
    out.addEventListener('click', signOut);
  }
  route();
}
