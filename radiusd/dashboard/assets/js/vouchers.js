// Plans and vouchers (the voucher API: /v1/plans, /v1/batches,
// /v1/vouchers): plan list and creation, batches, a print-ready sheet of
// codes, CSV export, revocation.
import {api} from './api.js';
import {h, replace, td, table, field, select} from './dom.js';
import {typeNames, duration, dateTime, num} from './fmt.js';
import {showError, showNotice, submitting} from './widgets.js';

// LIST_MS: plans and batches change only when an operator acts (and the
// page refreshes after each action); reading every code of every batch is
// costly on a large site, so these pages refresh rarely.
const LIST_MS = 30000;

// missing explains a 404 from a radiusd without the voucher API.
function missing(el, e) {
  if (e.status === 404 || e.status === 405) {
    replace(el, h('p', {class: 'card'}, 'This radiusd has no voucher API (/v1/plans): plans and vouchers need a newer version.'));
    return true;
  }
  return false;
}

function planSummary(p) {
  const parts = [typeNames[p.type] || p.type];
  if (p.time_secs) parts.push(duration(p.time_secs));
  if (p.data_mb) parts.push(num(p.data_mb) + ' MB');
  if (p.exp_days) parts.push('valid ' + p.exp_days + ' d after first use');
  parts.push(p.use_global_speed ? 'NAS speed' : (p.down_mbits || 0) + '/' + (p.up_mbits || 0) + ' Mbit/s');
  return parts.join(' · ');
}

const money = new Intl.NumberFormat(undefined, {maximumFractionDigits: 2});
function price(p) {
  if (!p.price) return '—';
  if (/^[A-Z]{3}$/.test(p.currency || '')) {
    try { return new Intl.NumberFormat(undefined, {style: 'currency', currency: p.currency}).format(p.price); } catch { /* not ISO 4217 */ }
  }
  return money.format(p.price) + (p.currency ? ' ' + p.currency : '');
}

export const plans = {
  mount(root) {
    const list = h('div', {id: 'plan-list'});
    const out = h('div', {role: 'status'});
    const form = h('form', {class: 'inline', id: 'plan-create'},
      field('Name', {name: 'name', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9][A-Za-z0-9._-]{0,63}', title: 'letters, digits, . _ - (up to 64)'}),
      select('Type', {name: 'type'}, [['time', 'Time'], ['data', 'Data'], ['time_or_data', 'Time or data']]),
      field('Time (minutes)', {name: 'time', type: 'number', min: '0', step: '1'}),
      field('Data (MB)', {name: 'data', type: 'number', min: '0', step: 'any'}),
      field('Valid for (days after first use)', {name: 'exp', type: 'number', min: '1', step: '1'}),
      field('Down (Mbit/s)', {name: 'down', type: 'number', min: '0', step: '1'}),
      field('Up (Mbit/s)', {name: 'up', type: 'number', min: '0', step: '1'}),
      field('Use the NAS\'s global speed', {name: 'global', type: 'checkbox'}),
      field('Price', {name: 'price', type: 'number', min: '0', step: 'any', inputmode: 'decimal'}),
      field('Currency', {name: 'currency', autocomplete: 'off', maxlength: '8'}),
      field('Devices per code', {name: 'devices', type: 'number', min: '1', step: '1', value: '1'}),
      h('button', {type: 'submit'}, 'Create plan'));
    root.append(h('h1', {}, 'Plans'), list, h('section', {class: 'card'}, h('h2', {}, 'New plan'), form, out));
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const b = {name: form.name.value.trim(), type: form.type.value};
      if (form.time.value) b.time_secs = Math.round(Number(form.time.value) * 60);
      if (form.data.value) b.data_mb = Number(form.data.value);
      if (form.exp.value) b.exp_days = Number(form.exp.value);
      if (form.global.checked) b.use_global_speed = true;
      if (form.down.value) b.down_mbits = Number(form.down.value);
      if (form.up.value) b.up_mbits = Number(form.up.value);
      if (form.price.value) b.price = Number(form.price.value);
      if (form.currency.value) b.currency = form.currency.value;
      if (form.devices.value) b.devices = Number(form.devices.value);
      submitting(form, async () => {
        try {
          const p = await api('POST', '/v1/plans', b);
          showNotice(out, 'Plan ' + p.name + ' created.');
          form.reset();
          refresh();
        } catch (e) { showError(out, e); }
      });
    });
    async function refresh() {
      let r;
      try { r = await api('GET', '/v1/plans'); } catch (e) { if (missing(list, e)) return; throw e; }
      const ps = r.plans || [];
      replace(list, ps.length === 0 ? h('p', {class: 'card'}, 'No plan yet: create one below, then a batch of vouchers on the Vouchers page.') :
        table('Plans', ['Plan', 'What it sells', 'Price', 'Devices per code', 'Created'], ps.map(p => h('tr', {},
          td('Plan', h('strong', {}, p.name)), td('What it sells', planSummary(p)), td('Price', price(p)),
          td('Devices per code', String(p.devices || 1)), td('Created', dateTime(p.created_at))))));
    }
    return {refresh, every: LIST_MS};
  },
};

export const batches = {
  mount(root) {
    const list = h('div', {id: 'batch-list'});
    const out = h('div', {role: 'status', id: 'batch-result'});
    const planSel = h('select', {name: 'plan', id: 'batch-plan', required: true});
    const form = h('form', {class: 'inline', id: 'batch-create'},
      h('div', {class: 'field'}, h('label', {for: 'batch-plan'}, 'Plan'), planSel),
      field('Number of codes', {name: 'count', type: 'number', min: '1', max: '10000', step: '1', value: '10', required: true}),
      field('Code length', {name: 'length', type: 'number', min: '8', max: '20', step: '1', value: '10'}),
      field('Prefix (letters and digits)', {name: 'prefix', autocomplete: 'off'}),
      field('Note', {name: 'note', autocomplete: 'off'}),
      h('button', {type: 'submit'}, 'Create vouchers'));
    root.append(h('h1', {}, 'Vouchers'), h('section', {class: 'card'}, h('h2', {}, 'New batch'), form, out), list);
    let known = '';
    form.addEventListener('submit', ev => {
      ev.preventDefault();
      const b = {count: Number(form.count.value)};
      if (form.length.value) b.length = Number(form.length.value);
      if (form.prefix.value) b.prefix = form.prefix.value;
      if (form.note.value) b.note = form.note.value;
      submitting(form, async () => {
        try {
          const r = await api('POST', '/v1/plans/' + encodeURIComponent(planSel.value) + '/batches', b);
          location.hash = '#/batch/' + encodeURIComponent(r.batch.id);
        } catch (e) { showError(out, e); }
      });
    });
    async function refresh() {
      let r, ps;
      try {
        [r, ps] = await Promise.all([api('GET', '/v1/batches'), api('GET', '/v1/plans')]);
      } catch (e) { if (missing(list, e)) { form.hidden = true; return; } throw e; }
      const names = (ps.plans || []).map(p => p.name);
      if (names.join() !== known) {
        known = names.join();
        const keep = planSel.value;
        replace(planSel, names.map(n => h('option', {value: n}, n)));
        if (names.includes(keep)) planSel.value = keep;
        if (names.length === 0) showNotice(out, 'Create a plan first (Plans page).');
      }
      const bs = r.batches || [];
      replace(list, bs.length === 0 ? h('p', {class: 'card'}, 'No voucher yet.') :
        table('Batches', ['Batch', 'Plan', 'Codes', 'States', 'Note', 'Created'], bs.map(b => h('tr', {},
          td('Batch', h('a', {href: '#/batch/' + encodeURIComponent(b.id)}, h('code', {}, b.id))), td('Plan', b.plan), td('Codes', num(b.count)),
          td('States', states(b.states)), td('Note', b.note || ''), td('Created', dateTime(b.created_at))))));
    }
    return {refresh, every: LIST_MS};
  },
};

// group writes a code in groups of four for reading aloud and typing
// (customers may type it with or without the dashes).
function group(code) {
  return code.match(/.{1,4}/g).join('-');
}

function states(s) {
  return Object.entries(s || {}).filter(([, n]) => n > 0).map(([k, n]) => k.replace('_', ' ') + ' ' + n).join(', ') || '—';
}

export const batch = {
  mount(root, [id]) {
    const title = h('h1', {}, 'Batch ', h('code', {}, id));
    const info = h('div', {id: 'batch-info', class: 'noprint'});
    const out = h('div', {role: 'status', class: 'noprint'});
    const sheet = h('section', {'aria-labelledby': 'sheet-title'});
    const codes = h('div', {class: 'noprint', id: 'batch-codes'});
    const printBtn = h('button', {type: 'button', id: 'print'}, 'Print the sheet');
    printBtn.addEventListener('click', () => window.print());
    const csv = h('a', {href: '/v1/batches/' + encodeURIComponent(id) + '/csv', download: 'vouchers-' + id + '.csv', id: 'csv', class: 'button secondary'}, 'Export CSV');
    const revokeBtn = h('button', {type: 'button', class: 'danger', id: 'revoke-batch'}, 'Revoke the batch');
    revokeBtn.addEventListener('click', async () => {
      if (!confirm('Revoke every unused and active code of batch ' + id + '?')) return;
      try {
        await api('POST', '/v1/batches/' + encodeURIComponent(id) + '/revoke');
        showNotice(out, 'Batch revoked.');
        refresh();
      } catch (e) { showError(out, e); }
    });
    root.append(title, info, h('div', {class: 'actions noprint'}, printBtn, csv, revokeBtn), out, sheet, codes);
    let plan = null;

    async function revokeOne(code) {
      if (!confirm('Revoke code ' + code + '?')) return;
      try {
        await api('POST', '/v1/vouchers/' + encodeURIComponent(code) + '/revoke');
        showNotice(out, 'Code ' + code + ' revoked.');
        refresh();
      } catch (e) { showError(out, e); }
    }

    async function complete(code) {
      try {
        await api('POST', '/v1/vouchers/' + encodeURIComponent(code) + '/complete');
        showNotice(out, 'Code ' + code + ': pending logins completed.');
        refresh();
      } catch (e) { showError(out, e); }
    }

    async function refresh() {
      let b;
      try { b = await api('GET', '/v1/batches/' + encodeURIComponent(id)); } catch (e) { if (missing(info, e)) return; throw e; }
      if (!plan || plan.name !== b.plan) plan = await api('GET', '/v1/plans/' + encodeURIComponent(b.plan)).catch(() => ({name: b.plan}));
      const vs = b.vouchers || [];
      replace(info, h('dl', {class: 'kv card'},
        h('dt', {}, 'Plan'), h('dd', {}, b.plan + (plan.type ? ' — ' + planSummary(plan) : '')),
        h('dt', {}, 'Codes'), h('dd', {}, num(b.count) + ' (' + states(b.states) + ')'),
        h('dt', {}, 'Created'), h('dd', {}, dateTime(b.created_at)),
        b.note ? [h('dt', {}, 'Note'), h('dd', {}, b.note)] : null));
      const unused = vs.filter(v => v.state === 'unused');
      replace(sheet, h('h2', {id: 'sheet-title', class: 'noprint'}, 'Sheet: ' + unused.length + ' unused code' + (unused.length === 1 ? '' : 's')),
        h('div', {class: 'sheet'}, unused.map(v => h('div', {class: 'voucher'},
          h('div', {class: 'plan'}, b.plan), plan.type ? h('div', {class: 'muted'}, planSummary(plan)) : null,
          h('div', {class: 'code', 'data-code': v.code}, group(v.code)), plan.price ? h('div', {}, price(plan)) : null))));
      replace(codes, h('h2', {}, 'Codes'), table('Codes of batch ' + id, ['Code', 'State', 'Devices', 'Redeemed', 'Action'], vs.map(v => h('tr', {},
        td('Code', h('code', {}, v.code)), td('State', v.state.replace('_', ' ')),
        td('Devices', (v.devices || []).map(m => [h('a', {href: '#/device/' + m}, m), ' ']),
          (v.pending || []).length ? [h('br'), h('span', {class: 'warn'}, 'login not completed: ' + v.pending.join(', ')), ' ',
            h('button', {type: 'button', class: 'secondary', onclick: () => complete(v.code), 'aria-label': 'Complete the logins of ' + v.code}, 'Complete')] : null),
        td('Redeemed', v.redeemed_at ? dateTime(v.redeemed_at) : '—'),
        td('Action', v.state === 'unused' || v.state === 'active' ? h('button', {type: 'button', class: 'secondary', onclick: () => revokeOne(v.code), 'aria-label': 'Revoke ' + v.code}, 'Revoke') : '')))));
    }
    return {refresh, every: LIST_MS};
  },
};
