// Overview: who is online, packet rates, Redis and NAS health, enforcement.
import {api} from './api.js';
import {h, replace, td, table} from './dom.js';
import {num, rate, relative} from './fmt.js';

export function mount(root) {
  const stats = h('div', {class: 'grid', id: 'stats'});
  const nasBox = h('section', {class: 'card', 'aria-labelledby': 'ov-nas'});
  const enfBox = h('section', {class: 'card', 'aria-labelledby': 'ov-enf'});
  root.append(h('h1', {}, 'Overview'), stats, nasBox, enfBox);
  let prev = null; // the previous sample, for the rates

  return {
    async refresh() {
      const o = await api('GET', '/v1/overview');
      const at = new Date(o.at).getTime() / 1000;
      const rates = {};
      for (const k of ['accepts', 'rejects', 'accounting', 'dropped']) {
        rates[k] = prev && at > prev.at ? Math.max(0, (o.packets[k] - prev.p[k]) / (at - prev.at)) : null;
      }
      prev = {at, p: o.packets};
      const redis = o.redis.ok
        ? h('span', {class: 'ok'}, 'OK')
        : h('span', {class: 'bad'}, 'DOWN');
      replace(stats,
        stat('Devices online', num(o.devices_online), num(o.nas_sessions_open) + ' NAS sessions open' + (o.online_more ? ' (more than listed)' : ''), 'devices-online'),
        stat('Accepts /s', rate(rates.accepts), num(o.packets.accepts) + ' since start', 'accepts'),
        stat('Rejects /s', rate(rates.rejects), num(o.packets.rejects) + ' since start', 'rejects'),
        stat('Accounting /s', rate(rates.accounting), num(o.packets.accounting) + ' since start', 'accounting'),
        stat('Dropped /s', rate(rates.dropped), num(o.packets.dropped) + ' since start', 'dropped'),
        stat('Redis', redis, o.redis.ok ? o.redis.latency_ms.toFixed(1) + ' ms ping' : o.redis.error, 'redis'),
      );
      replace(nasBox, h('h2', {id: 'ov-nas'}, 'NAS'),
        o.nas.length === 0 ? h('p', {class: 'muted'}, 'No NAS configured.') :
        table('NAS entries', ['Name', 'Address', 'Open sessions', 'Last accounting update'],
          o.nas.map(n => h('tr', {},
            td('Name', n.name), td('Address', n.address), td('Open sessions', num(n.open_sessions)),
            td('Last accounting update', n.last_update ? h('time', {datetime: n.last_update, title: new Date(n.last_update).toLocaleString()}, relative(n.last_update)) : h('span', {class: 'muted'}, 'no open session')))))
      );
      const e = o.enforcement;
      const results = ['ack', 'nak', 'timeout', 'error', 'dropped'];
      replace(enfBox, h('h2', {id: 'ov-enf'}, 'Enforcement (Disconnect / CoA)'),
        table('Disconnect and CoA requests by result', ['Kind', ...results.map(r => r.toUpperCase())], [
          h('tr', {}, td('Kind', 'Disconnect'), results.map(r => td(r.toUpperCase(), num(e.disconnect[r])))),
          h('tr', {}, td('Kind', 'CoA'), results.map(r => td(r.toUpperCase(), num(e.coa[r])))),
        ]),
        h('p', {class: 'muted'}, 'End-of-session checks not scheduled (queue full): ' + num(e.schedule_dropped) + '. In flight now: ' + num(o.in_flight) + '.'));
    },
  };
}

function stat(label, value, sub, id) {
  return h('div', {class: 'stat', id: 'stat-' + id},
    h('div', {class: 'label'}, label), h('div', {class: 'value'}, value), h('div', {class: 'sub'}, sub));
}
