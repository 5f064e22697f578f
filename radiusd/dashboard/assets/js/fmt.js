// Formatting in the operator's language and time zone (the browser's).
const dateFmt = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
const relFmt = new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'});
const numFmt = new Intl.NumberFormat(undefined, {maximumFractionDigits: 1});
const intFmt = new Intl.NumberFormat(undefined, {maximumFractionDigits: 0});

export function dateTime(iso) {
  if (!iso) return '—';
  return dateFmt.format(new Date(iso));
}

export function relative(iso, now = Date.now()) {
  if (!iso) return '—';
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const a = Math.abs(s);
  if (a < 45) return relFmt.format(s, 'second');
  if (a < 2700) return relFmt.format(Math.round(s / 60), 'minute');
  if (a < 86400) return relFmt.format(Math.round(s / 3600), 'hour');
  return relFmt.format(Math.round(s / 86400), 'day');
}

// duration: 3725 → "1 h 2 min"; under a minute in seconds.
export function duration(secs) {
  secs = Math.max(0, Math.round(secs));
  if (secs < 60) return secs + ' s';
  const d = Math.floor(secs / 86400), hr = Math.floor(secs % 86400 / 3600), m = Math.floor(secs % 3600 / 60);
  const out = [];
  if (d) out.push(d + ' d');
  if (hr) out.push(hr + ' h');
  if (m && !d) out.push(m + ' min');
  return out.join(' ') || '0 min';
}

// bytes in SI units, as README counts (1 MB = 1,000,000 bytes).
export function bytes(n) {
  n = Number(n) || 0;
  if (n < 1e3) return intFmt.format(n) + ' B';
  if (n < 1e6) return numFmt.format(n / 1e3) + ' kB';
  if (n < 1e9) return numFmt.format(n / 1e6) + ' MB';
  return numFmt.format(n / 1e9) + ' GB';
}

export function num(n) { return intFmt.format(Number(n) || 0); }
export function rate(n) { return n === null || n === undefined ? '—' : numFmt.format(n); }

export const typeNames = {time: 'Time', data: 'Data', time_or_data: 'Time or data'};
export const statusNames = {
  available: 'available', expired: 'expired', time_used_up: 'time used up', data_used_up: 'data used up',
  no_session: 'no session', unknown: 'unknown',
};
