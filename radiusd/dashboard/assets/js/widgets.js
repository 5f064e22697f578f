// Pieces shared by the views.
import {h, replace} from './dom.js';
import {duration, bytes, statusNames} from './fmt.js';
import {ApiError} from './api.js';

// remainingBars shows what a session has left as bars with their text.
export function remainingBars(s) {
  if (!s) return h('span', {class: 'muted'}, 'no available session');
  const out = [];
  if (s.type === 'time' || s.type === 'time_or_data') {
    out.push(bar('Time', s.remaining_time_secs, s.time_secs, duration(s.remaining_time_secs) + ' of ' + duration(s.time_secs) + ' left'));
  }
  if (s.type === 'data' || s.type === 'time_or_data') {
    out.push(bar('Data', s.remaining_data_bytes, s.data_bytes, bytes(s.remaining_data_bytes) + ' of ' + bytes(s.data_bytes) + ' left'));
  }
  return h('div', {}, out);
}

function bar(kind, left, total, text) {
  const pct = total > 0 ? Math.max(0, Math.min(100, left / total * 100)) : 0;
  const cls = pct === 0 ? 'bar empty' : pct < 15 ? 'bar low' : 'bar';
  return h('div', {class: cls},
    h('div', {class: 'track', role: 'progressbar', 'aria-label': kind + ' left', 'aria-valuemin': 0, 'aria-valuemax': 100,
      'aria-valuenow': Math.round(pct), 'aria-valuetext': text},
      h('div', {class: 'fill', style: 'width:' + pct.toFixed(1) + '%'})),
    h('div', {class: 'text'}, kind + ': ' + text));
}

export function statusPill(status) {
  const cls = status === 'available' ? 'ok' : status === 'expired' || status === 'no_session' ? 'muted' : 'bad';
  return h('span', {class: 'pill ' + cls}, statusNames[status] || status);
}

export function onlinePill(online) {
  return online ? h('span', {class: 'pill ok'}, 'online') : h('span', {class: 'pill muted'}, 'offline');
}

// showError writes an API error (and every field problem) into el.
export function showError(el, e) {
  const lines = [];
  if (e instanceof ApiError && e.problems && e.problems.length) {
    for (const p of e.problems) lines.push(p.field ? p.field + ': ' + p.error : p.error);
  } else {
    lines.push(e.message || String(e));
  }
  replace(el, lines.map(l => h('div', {}, l)));
  el.classList.remove('notice', 'muted');
  el.classList.add('error');
}

export function showNotice(el, text) {
  replace(el, text);
  el.classList.remove('error', 'muted');
  el.classList.add('notice');
}

// submitting disables a form's buttons while its request runs.
export async function submitting(form, fn) {
  const buttons = form.querySelectorAll('button');
  buttons.forEach(b => b.disabled = true);
  try { return await fn(); } finally { buttons.forEach(b => b.disabled = false); }
}
