// A device: its sessions, what it consumed, its NAS sessions now, and the
// operator's actions. Every change goes through the admin API, whose rules
// (session/edit.go) decide; its answer is shown next to the form.
import {api} from './api.js';
import {h, replace, td, table, field, select} from './dom.js';
import {typeNames, duration, bytes, dateTime, relative} from './fmt.js';
import {remainingBars, statusPill, onlinePill, showError, showNotice, submitting} from './widgets.js';

const units = [['60', 'minutes'], ['3600', 'hours'], ['86400', 'days']];

export function mount(root, [rawMAC]) {
  const mac = rawMAC;
  const head = h('div', {id: 'device-head'});
  const sessions = h('section', {class: 'card', 'aria-labelledby': 'dev-sessions'});
  const nasBox = h('section', {class: 'card', 'aria-labelledby': 'dev-nas'});
  const recentList = h('div', {id: 'recent-nas'});
  const recentBtn = h('button', {type: 'button', class: 'secondary', id: 'recent-refresh'}, 'Look again');
  const recentBox = h('section', {class: 'card', 'aria-labelledby': 'dev-recent'},
    h('h2', {id: 'dev-recent'}, 'NAS sessions of the last day'), recentList, recentBtn);
  // Not on every refresh: finding stopped records scans Redis's keyspace.
  async function loadRecent() {
    recentBtn.disabled = true;
    try {
      const r = await api('GET', '/v1/devices/' + mac + '/nas-sessions?recent=true');
      const rows = r.recent || [];
      replace(recentList, rows.length === 0 ? h('p', {class: 'muted'}, 'None kept: stopped NAS sessions are kept a day.') :
        table('NAS sessions of the last day', ['NAS', 'Acct-Session-Id', 'State', 'Session', 'Online for', 'Traffic', 'Last update'], rows.map(x => h('tr', {},
          td('NAS', x.nas), td('Acct-Session-Id', h('code', {}, x.acct_session_id)), td('State', x.open ? 'open' : 'stopped'),
          td('Session', x.session_id ? h('code', {}, x.session_id) : '—'),
          td('Online for', duration(x.session_time_secs)), td('Traffic', bytes(x.input_octets + x.output_octets)),
          td('Last update', x.updated_at ? h('time', {datetime: x.updated_at}, dateTime(x.updated_at)) : '—')))),
        r.recent_more ? h('p', {class: 'muted'}, 'Only the newest are listed.') : null);
    } catch (e) { showError(recentList, e); } finally { recentBtn.disabled = false; }
  }
  recentBtn.addEventListener('click', loadRecent);
  const pick = h('select', {id: 'session-pick', name: 'session'});
  const actions = h('section', {class: 'card', 'aria-labelledby': 'dev-actions'});
  root.append(h('h1', {}, 'Device ', h('code', {}, mac)), head, sessions, nasBox, actions, recentBox);
  loadRecent();

  // ---- actions (built once; the live refresh leaves them alone) ----
  const discOut = h('div', {role: 'status', id: 'disconnect-result'});
  const discBtn = h('button', {type: 'button', class: 'danger', id: 'disconnect'}, 'Disconnect now');
  discBtn.addEventListener('click', async () => {
    discBtn.disabled = true;
    replace(discOut, 'Sending Disconnect-Request…');
    discOut.classList.remove('error', 'notice');
    discOut.classList.add('muted');
    try {
      const r = await api('POST', '/v1/devices/' + mac + '/disconnect');
      if (r.results.length === 0) showNotice(discOut, 'The device has no open NAS session: nothing to disconnect.');
      else showNotice(discOut, r.results.map(x => x.nas + ' ' + x.acct_session_id + ': ' + x.result.toUpperCase() + (x.error_cause_name ? ' (' + x.error_cause_name + ')' : '')).join('; '));
      refresh();
      loadRecent();
    } catch (e) { showError(discOut, e); } finally { discBtn.disabled = false; }
  });

  const create = createForm(mac, () => refresh());
  const topup = h('form', {class: 'inline', id: 'topup'},
    field('Add time', {name: 'amount', type: 'number', min: '0', step: 'any', inputmode: 'decimal'}),
    select('Unit', {name: 'unit'}, units),
    field('Add data (MB)', {name: 'mb', type: 'number', min: '0', step: 'any', inputmode: 'decimal'}),
    h('button', {type: 'submit'}, 'Top up'));
  const topupOut = h('div', {role: 'status'});
  topup.addEventListener('submit', ev => {
    ev.preventDefault();
    const body = {};
    if (topup.amount.value) body.add_time_secs = Math.round(Number(topup.amount.value) * Number(topup.unit.value));
    if (topup.mb.value) body.add_data_mb = Number(topup.mb.value);
    change(topup, topupOut, body, 'Topped up.');
  });

  const edit = h('form', {class: 'inline', id: 'edit'},
    field('Time allocation (minutes)', {name: 'time', type: 'number', min: '0', step: '1'}),
    field('Data allocation (MB)', {name: 'data', type: 'number', min: '0', step: 'any'}),
    field('Down (Mbit/s)', {name: 'down', type: 'number', min: '0', step: '1'}),
    field('Up (Mbit/s)', {name: 'up', type: 'number', min: '0', step: '1'}),
    field('Valid for (days after first use)', {name: 'exp', type: 'number', min: '1', step: '1'}),
    field('Never expires', {name: 'noexp', type: 'checkbox'}),
    field('Use the NAS\'s global speed', {name: 'global', type: 'checkbox'}),
    field('Provider', {name: 'provider', autocomplete: 'off'}),
    h('button', {type: 'submit'}, 'Save changes'));
  const editOut = h('div', {role: 'status'});
  edit.addEventListener('submit', ev => {
    ev.preventDefault();
    const body = {};
    if (edit.time.value) body.time_secs = Math.round(Number(edit.time.value) * 60);
    if (edit.data.value) body.data_mb = Number(edit.data.value);
    if (edit.down.value) body.down_mbits = Number(edit.down.value);
    if (edit.up.value) body.up_mbits = Number(edit.up.value);
    if (edit.noexp.checked) body.exp_days = null;
    else if (edit.exp.value) body.exp_days = Number(edit.exp.value);
    if (edit.global.checked) body.use_global_speed = true;
    if (edit.provider.value) body.provider = edit.provider.value;
    change(edit, editOut, body, 'Saved.');
  });

  const delOut = h('div', {role: 'status'});
  const delBtn = h('button', {type: 'button', class: 'danger', id: 'delete'}, 'Delete this session');
  delBtn.addEventListener('click', async () => {
    const id = pick.value;
    if (!id || !confirm('Delete session ' + id + '? Its consumption is lost.')) return;
    delBtn.disabled = true;
    try {
      await api('DELETE', '/v1/sessions/' + id);
      showNotice(delOut, 'Session ' + id + ' deleted.');
      refresh();
    } catch (e) { showError(delOut, e); } finally { delBtn.disabled = false; }
  });

  async function change(form, out, body, done) {
    const id = pick.value;
    if (!id) { showError(out, new Error('Choose a session first.')); return; }
    await submitting(form, async () => {
      try {
        const r = await api('PATCH', '/v1/sessions/' + id, body);
        let msg = done + ' ' + describe(r.session);
        if (r.dynauth && r.dynauth.length) msg += ' NAS told: ' + r.dynauth.map(x => x.nas + ' ' + x.result.toUpperCase()).join(', ') + '.';
        showNotice(out, msg);
        form.reset();
        refresh();
      } catch (e) { showError(out, e); }
    });
  }

  replace(actions, h('h2', {id: 'dev-actions'}, 'Actions'),
    h('div', {class: 'actions'}, discBtn), discOut,
    h('h3', {}, 'New session'), create,
    h('div', {class: 'field pick'}, h('label', {for: 'session-pick'}, 'Session to change'), pick),
    h('h3', {}, 'Top up'), topup, topupOut,
    h('details', {}, h('summary', {}, 'Edit'), edit, editOut),
    h('div', {class: 'actions spaced'}, delBtn), delOut);

  // ---- live part ----
  async function refresh() {
    let list;
    try {
      list = await api('GET', '/v1/devices/' + mac + '/sessions');
    } catch (e) {
      if (e.status === 400) { replace(head, h('p', {class: 'error', role: 'alert'}, e.message)); actions.hidden = true; return; }
      throw e;
    }
    const nas = await api('GET', '/v1/devices/' + mac + '/nas-sessions');
    const online = nas.nas_sessions.length > 0;
    const cur = list.sessions.find(s => s.current);
    replace(head, h('p', {}, onlinePill(online), ' ',
      cur ? ['current session ', h('code', {}, cur.id)] : ['no available session (' + (list.reason || 'no_session').replaceAll('_', ' ') + ')']));

    replace(sessions, h('h2', {id: 'dev-sessions'}, 'Sessions'),
      list.sessions.length === 0 ? h('p', {class: 'muted'}, 'No session yet: create one below.') :
      table('Sessions of ' + mac, ['Session', 'Status', 'Left', 'Used', 'Speed', 'Validity'], list.sessions.map(s => h('tr', {'data-session': s.id},
        td('Session', h('code', {}, s.id), h('br'), (typeNames[s.type] || s.type) + (s.provider ? ' · ' + s.provider : ''), s.current ? h('span', {class: 'pill ok current'}, 'current') : null),
        td('Status', statusPill(s.status)),
        td('Left', remainingBars(s)),
        td('Used', h('div', {class: 'used'}, duration(s.time_cons_secs) + ' · ' + bytes(s.data_cons_bytes))),
        td('Speed', s.use_global_speed ? 'NAS global' : s.down_mbits + ' / ' + s.up_mbits + ' Mbit/s'),
        td('Validity', s.started_at ? ['first used ', h('time', {datetime: s.started_at}, dateTime(s.started_at))] : 'not used yet',
          h('br'), s.expires_at ? ['expires ', h('time', {datetime: s.expires_at}, dateTime(s.expires_at))] : (s.exp_days ? s.exp_days + ' days after first use' : 'never expires'))))));

    replace(nasBox, h('h2', {id: 'dev-nas'}, 'NAS sessions now'),
      nas.nas_sessions.length === 0 ? h('p', {class: 'muted'}, 'Not online: no open NAS session.') :
      table('Open NAS sessions', ['NAS', 'Acct-Session-Id', 'Address', 'Online for', 'Traffic', 'Last update'], nas.nas_sessions.map(r => h('tr', {},
        td('NAS', r.nas), td('Acct-Session-Id', h('code', {}, r.acct_session_id)), td('Address', r.framed_ip || '—'),
        td('Online for', duration(r.session_time_secs)), td('Traffic', bytes(r.input_octets + r.output_octets)),
        td('Last update', r.updated_at ? h('time', {datetime: r.updated_at, title: dateTime(r.updated_at)}, relative(r.updated_at)) : '—')))));

    // The session picker keeps its choice; the current session by default.
    const ids = list.sessions.map(s => s.id);
    const had = [...pick.options].map(o => o.value);
    if (ids.join() !== had.join()) {
      const keep = ids.includes(pick.value) ? pick.value : (cur ? cur.id : ids[ids.length - 1]);
      replace(pick, list.sessions.map(s => h('option', {value: s.id}, s.id + ' (' + (typeNames[s.type] || s.type) + ')')));
      if (keep) pick.value = keep;
    }
  }
  return {refresh};
}

function describe(s) {
  const parts = [];
  if (s.type !== 'data') parts.push(duration(s.remaining_time_secs) + ' left');
  if (s.type !== 'time') parts.push(bytes(s.remaining_data_bytes) + ' left');
  return 'Session ' + s.id + ': ' + parts.join(', ') + '.';
}

// createForm is the new-session form: from a plan (when the API has
// plans) or custom.
function createForm(mac, done) {
  const out = h('div', {role: 'status', id: 'create-result'});
  const planSel = h('select', {name: 'plan', id: 'plan-pick'}, h('option', {value: ''}, 'Custom'));
  const form = h('form', {class: 'inline', id: 'create'},
    h('div', {class: 'field'}, h('label', {for: 'plan-pick'}, 'Plan'), planSel),
    select('Type', {name: 'type'}, [['time', 'Time'], ['data', 'Data'], ['time_or_data', 'Time or data']]),
    field('Time', {name: 'time', type: 'number', min: '0', step: 'any', inputmode: 'decimal'}),
    select('Time unit', {name: 'unit'}, units),
    field('Data (MB)', {name: 'data', type: 'number', min: '0', step: 'any', inputmode: 'decimal'}),
    field('Down (Mbit/s)', {name: 'down', type: 'number', min: '0', step: '1'}),
    field('Up (Mbit/s)', {name: 'up', type: 'number', min: '0', step: '1'}),
    field('Use the NAS\'s global speed', {name: 'global', type: 'checkbox'}),
    field('Valid for (days after first use, empty: never expires)', {name: 'exp', type: 'number', min: '1', step: '1'}),
    field('Provider', {name: 'provider', autocomplete: 'off'}),
    h('button', {type: 'submit'}, 'Create session'));
  const wrap = h('div', {}, form, out);
  let plans = [];
  api('GET', '/v1/plans').then(r => {
    plans = r.plans || [];
    for (const p of plans) planSel.append(h('option', {value: p.name}, p.name));
  }).catch(() => { /* no plans API in this build: custom sessions only */ });
  planSel.addEventListener('change', () => {
    const p = plans.find(x => x.name === planSel.value);
    if (!p) return;
    form.type.value = p.type;
    form.time.value = p.time_secs ? p.time_secs / 60 : '';
    form.unit.value = '60';
    form.data.value = p.data_mb || '';
    form.down.value = p.down_mbits || '';
    form.up.value = p.up_mbits || '';
    form.global.checked = !!p.use_global_speed;
    form.exp.value = p.exp_days || '';
    form.provider.value = p.name;
  });
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const body = {type: form.type.value};
    if (form.time.value) body.time_secs = Math.round(Number(form.time.value) * Number(form.unit.value));
    if (form.data.value) body.data_mb = Number(form.data.value);
    if (form.global.checked) body.use_global_speed = true;
    if (form.down.value) body.down_mbits = Number(form.down.value);
    if (form.up.value) body.up_mbits = Number(form.up.value);
    if (form.exp.value) body.exp_days = Number(form.exp.value);
    if (form.provider.value) body.provider = form.provider.value;
    submitting(form, async () => {
      try {
        const s = await api('POST', '/v1/devices/' + mac + '/sessions', body);
        showNotice(out, 'Created. ' + describe(s));
        done();
      } catch (e) { showError(out, e); }
    });
  });
  return wrap;
}
