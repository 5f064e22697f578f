// Devices: search by MAC, online or not, current session and what is left.
import {api} from './api.js';
import {h, replace, td, table, field} from './dom.js';
import {typeNames} from './fmt.js';
import {remainingBars, onlinePill, statusPill, showError} from './widgets.js';

export function mount(root, _args, params) {
  const q = field('Search by MAC', {name: 'q', type: 'search', value: params.get('q') || '', placeholder: 'aa:bb:cc or ccddeeff', autocomplete: 'off', spellcheck: 'false'});
  const onlineOnly = field('Online only', {name: 'online', type: 'checkbox', checked: params.get('online') === '1'});
  const form = h('form', {class: 'search', role: 'search'}, q, onlineOnly, h('button', {type: 'submit'}, 'Search'));
  const err = h('div', {role: 'alert'});
  const list = h('div', {id: 'device-list', 'aria-live': 'polite', 'aria-busy': 'true'});
  const newForm = h('form', {class: 'inline', id: 'open-device'},
    field('MAC address', {name: 'mac', required: true, placeholder: 'aa:bb:cc:dd:ee:ff', autocomplete: 'off', spellcheck: 'false'}),
    h('button', {type: 'submit', class: 'secondary'}, 'Open device'));
  root.append(h('h1', {}, 'Devices'), form, err, list,
    h('details', {class: 'card'}, h('summary', {}, 'A device not listed yet (give it its first session)'), newForm));

  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const p = new URLSearchParams();
    if (form.q.value.trim()) p.set('q', form.q.value.trim());
    if (form.online.checked) p.set('online', '1');
    location.hash = '#/devices' + (p.toString() ? '?' + p : '');
  });
  newForm.addEventListener('submit', ev => {
    ev.preventDefault();
    location.hash = '#/device/' + encodeURIComponent(newForm.mac.value.trim());
  });

  return {
    // A search scans Redis's keys (bounded): less often than the cheap pages.
    every: 5000,
    async refresh() {
      const p = new URLSearchParams({limit: '100'});
      if (params.get('q')) p.set('q', params.get('q'));
      if (params.get('online') === '1') p.set('online', 'true');
      let d;
      try {
        d = await api('GET', '/v1/devices?' + p);
      } catch (e) {
        if (e.status === 400) { showError(err, e); replace(list); return; }
        throw e;
      }
      replace(err);
      list.setAttribute('aria-busy', 'false');
      if (d.devices.length === 0) {
        replace(list, h('p', {class: 'card'}, params.get('q') || params.get('online') ? 'No device matches.' : 'No device has a session yet.'));
        return;
      }
      replace(list, table('Devices', ['MAC', 'Status', 'Current session', 'Left'], d.devices.map(row)),
        d.more ? h('p', {class: 'muted'}, 'More devices match: narrow the search.') : null);
    },
  };
}

function row(d) {
  const c = d.current;
  return h('tr', {'data-mac': d.mac},
    td('MAC', h('a', {href: '#/device/' + d.mac}, h('code', {}, d.mac))),
    td('Status', onlinePill(d.online), ' ', c ? statusPill(c.status) : statusPill(d.reason || 'no_session')),
    td('Current session', c ? [typeNames[c.type] || c.type, h('br'), h('span', {class: 'muted'}, c.id + ' · ' + d.sessions + ' session' + (d.sessions === 1 ? '' : 's'))] : h('span', {class: 'muted'}, d.sessions + ' session(s), none available')),
    td('Left', remainingBars(c)));
}
