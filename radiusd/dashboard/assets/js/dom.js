// h builds an element: h('td', {class: 'x', 'data-label': 'MAC'}, 'text', child).
// Text is always set as text (never parsed as HTML), so values from the
// API cannot inject markup.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    // Through the CSSOM: the Content-Security-Policy refuses style attributes.
    else if (k === 'style') el.style.cssText = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace swaps an element's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

let uid = 0;
// field is a labelled input: field('Time (minutes)', {name: 'time', type: 'number'}).
export function field(label, attrs, extraClass) {
  const id = attrs.id || 'f' + (++uid);
  if (attrs.type === 'checkbox') {
    return h('div', {class: 'field check ' + (extraClass || '')}, h('input', {...attrs, id}), h('label', {for: id}, label));
  }
  return h('div', {class: 'field ' + (extraClass || '')}, h('label', {for: id}, label), h('input', {...attrs, id}));
}

export function select(label, attrs, options) {
  const id = attrs.id || 'f' + (++uid);
  const s = h('select', {...attrs, id}, options.map(([v, t]) => h('option', {value: v}, t)));
  return h('div', {class: 'field'}, h('label', {for: id}, label), s);
}

// td with the header's text as its label on phones (CSS table.stack).
// Its content is one element, so that it stays one grid cell there.
export function td(label, ...children) {
  return h('td', {'data-label': label}, h('div', {}, ...children));
}

// table builds a stacked-on-phones table with a caption for screen readers.
export function table(caption, headers, rows) {
  return h('div', {class: 'table-wrap'}, h('table', {class: 'stack'},
    h('caption', {class: 'sr-only'}, caption),
    h('thead', {}, h('tr', {}, headers.map(x => h('th', {scope: 'col'}, x)))),
    h('tbody', {}, rows)));
}
