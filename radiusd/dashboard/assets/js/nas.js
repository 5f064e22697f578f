// NAS list: the NAS table with its open sessions and last update.
import {api} from './api.js';
import {h, replace, td, table} from './dom.js';
import {num, relative, dateTime} from './fmt.js';

export function mount(root) {
  const list = h('div', {id: 'nas-list'});
  const pk = h('section', {class: 'card', 'aria-labelledby': 'nas-packets'});
  root.append(h('h1', {}, 'NAS'), list, pk);
  return {
    async refresh() {
      const d = await api('GET', '/v1/nas');
      replace(list, table('NAS entries', ['Name', 'Address', 'Profiles', 'Disconnect/CoA port', 'Open sessions', 'Last accounting update'],
        d.nas.map(n => h('tr', {},
          td('Name', n.name), td('Address', h('code', {}, n.address)), td('Profiles', (n.profiles || []).join(', ')),
          td('Disconnect/CoA port', n.coa_port ? String(n.coa_port) : 'off'),
          td('Open sessions', num(n.open_sessions)),
          td('Last accounting update', n.last_update ? h('time', {datetime: n.last_update, title: dateTime(n.last_update)}, relative(n.last_update)) : h('span', {class: 'muted'}, 'no open session'))))));
      const outcomes = Object.entries(d.packets.by_outcome).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
      replace(pk, h('h2', {id: 'nas-packets'}, 'Packets by outcome (all NAS)'),
        outcomes.length === 0 ? h('p', {class: 'muted'}, 'No packet yet.') :
        table('Packets by outcome', ['Outcome', 'Packets'], outcomes.map(([k, v]) => h('tr', {}, td('Outcome', k), td('Packets', num(v))))),
        h('p', {class: 'muted'}, 'radiusd counts packets per outcome for the whole server, not per NAS (README "Metrics"). The last accounting update is that of the NAS\'s most recently updated open session.'));
    },
  };
}
