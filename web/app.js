/* The sluice dashboard: one page that shows the view its path names (/inbox, /runs/ID, ...),
 * reading the REST API with the session cookie. Filters live in the URL, so links can be
 * shared and the back button works. Plain JavaScript, no build step. */
'use strict';

const state = { csrf: null, page: null, refresh: null, stream: null };
const $ = (sel) => document.querySelector(sel);

/* --- DOM helpers: every text goes in as text, never as HTML ------------------------------ */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false || kid === '') continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}
function when(ms) {
  if (ms === null || ms === undefined || ms < 0) return '—';
  const d = new Date(ms);
  return d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}
function ago(ms) {
  if (!ms || ms < 0) return '';
  const s = Math.round((Date.now() - ms) / 1000);
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.round(s / 60) + ' min ago';
  if (s < 86400) return Math.round(s / 3600) + ' h ago';
  return Math.round(s / 86400) + ' d ago';
}
function ms(d) { return !d || d < 0.1 ? '<0.1 ms' : d < 1000 ? d.toFixed(1) + ' ms' : (d / 1000).toFixed(2) + ' s'; }
function badge(status) { return h('span', { class: 'badge s-' + status }, status); }
function link(href, text, attrs) { return h('a', Object.assign({ href }, attrs || {}), text); }
function empty(title, next) { return h('div', { class: 'empty' }, h('strong', {}, title), next); }
function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}
function render(...nodes) {
  const main = $('#main');
  main.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

/* --- the API ---------------------------------------------------------------------------- */
class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || ('HTTP ' + status));
    this.status = status;
    this.body = body;
  }
}
async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opts.headers['X-CSRF-Token'] = state.csrf || '';
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = typeof body === 'string' ? body : JSON.stringify(body);
    }
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.status === 401 && !path.startsWith('/auth/')) {
    state.csrf = null;
    go('/signin?next=' + encodeURIComponent(location.pathname + location.search), true);
    throw new ApiError(401, data);
  }
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}
function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) u.set(k, v);
  const s = u.toString();
  return s ? '?' + s : '';
}

/* --- routing ---------------------------------------------------------------------------- */
const routes = [
  [/^\/$/, overview, 'overview'],
  [/^\/inbox$/, inbox, 'inbox'],
  [/^\/events\/([^/]+)$/, eventPage, 'inbox'],
  [/^\/runs$/, runs, 'runs'],
  [/^\/runs\/([^/]+)$/, runPage, 'runs'],
  [/^\/flows$/, flows, 'flows'],
  [/^\/flows\/([^/]+)$/, flowPage, 'flows'],
  [/^\/connections$/, connections, 'connections'],
  [/^\/contacts$/, contacts, 'contacts'],
];
function go(url, replace) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route();
}
document.addEventListener('click', (e) => {
  const a = e.target.closest('a');
  if (!a || a.target || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith('/api/')) return;
  e.preventDefault();
  go(url.pathname + url.search);
});
window.addEventListener('popstate', route);

async function route() {
  state.refresh = null;
  $('#toast').hidden = true; /* what it said was about the page left */
  const path = location.pathname;
  const params = new URLSearchParams(location.search);
  if (path === '/signin') return signin(params);
  if (!state.csrf) {
    try {
      const s = await api('GET', '/auth/session');
      state.csrf = s.csrf;
    } catch (e) {
      return go('/signin?next=' + encodeURIComponent(path + location.search), true);
    }
  }
  signedIn(true);
  for (const [re, fn, page] of routes) {
    const m = path.match(re);
    if (!m) continue;
    state.page = page;
    for (const a of document.querySelectorAll('#nav a')) {
      if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    try {
      await fn(params, ...m.slice(1).map(decodeURIComponent));
    } catch (e) {
      if (e.status !== 401) render(h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, e.message));
    }
    const main = $('#main');
    if (document.activeElement === document.body) main.focus({ preventScroll: true });
    return;
  }
  render(h('h1', {}, 'No such page'), h('p', {}, link('/', 'Back to the overview')));
}

function signedIn(yes) {
  $('#nav').hidden = !yes;
  $('#signout').hidden = !yes;
  $('#live').hidden = !yes;
  if (yes && !state.stream) startStream();
  if (!yes && state.stream) { state.stream.close(); state.stream = null; }
}

/* --- sign-in ---------------------------------------------------------------------------- */
async function signin(params) {
  signedIn(false);
  state.csrf = null;
  const next = params.get('next') || '/';
  const safeNext = next.startsWith('/') && !next.startsWith('//') ? next : '/';
  const msg = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const input = h('input', { type: 'password', id: 'token', name: 'token', autocomplete: 'current-password', required: true, 'aria-describedby': 'signin-error' });
  const submit = async (token) => {
    msg.textContent = '';
    try {
      const r = await api('POST', '/auth/login', { token });
      state.csrf = r.csrf;
      go(safeNext, true);
    } catch (e) {
      msg.textContent = e.status === 401 ? 'That is not the admin token.' : e.message;
      input.focus();
    }
  };
  const form = h('form', { class: 'panel signin', onsubmit: (e) => { e.preventDefault(); submit(input.value); } },
    h('h1', {}, 'Sign in to sluice'),
    h('label', { for: 'token' }, 'Admin token'),
    input,
    h('p', { class: 'muted' }, 'The token is $SLUICE_ADMIN_TOKEN, or the file admin.token in sluice\'s data directory; `sluice serve` shows it at its first start.'),
    msg,
    h('button', { type: 'submit' }, 'Sign in'));
  render(form);
  /* A sign-in link (/signin#token=...): the token stays in the fragment, never sent in a URL. */
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    history.replaceState(null, '', location.pathname + location.search);
    return submit(decodeURIComponent(m[1]));
  }
  input.focus();
}
$('#signout').addEventListener('click', async () => {
  try { await api('POST', '/auth/logout'); } catch (e) { /* signed out either way */ }
  state.csrf = null;
  go('/signin', false);
});

/* --- live updates ----------------------------------------------------------------------- */
function startStream() {
  const es = new EventSource('/api/stream');
  state.stream = es;
  const live = $('#live');
  es.onopen = () => { live.classList.remove('off'); live.textContent = 'live'; };
  es.onerror = () => { live.classList.add('off'); live.textContent = 'reconnecting'; };
  es.addEventListener('events', (e) => {
    const evs = JSON.parse(e.data);
    if (state.refresh) state.refresh('events', evs);
    else toast(evs.length + (evs.length === 1 ? ' new event' : ' new events'));
  });
  es.addEventListener('runs', (e) => {
    const rs = JSON.parse(e.data);
    if (state.refresh) state.refresh('runs', rs);
  });
}

/* --- JSON viewer: objects and arrays fold ---------------------------------------------- */
function jsonView(value, open) {
  const leaf = (v) => {
    if (v === null) return h('span', { class: 'b' }, 'null');
    if (typeof v === 'string') return h('span', { class: 's' }, JSON.stringify(v));
    if (typeof v === 'number') return h('span', { class: 'n' }, String(v));
    return h('span', { class: 'b' }, String(v));
  };
  const node = (key, v, depth) => {
    const label = key === null ? [] : [h('span', { class: 'k' }, JSON.stringify(key)), ': '];
    if (v === null || typeof v !== 'object') return h('div', { class: 'row' }, label, leaf(v));
    const entries = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    const brackets = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
    if (!entries.length) return h('div', { class: 'row' }, label, brackets.join(''));
    const d = h('details', { open: depth < (open || 2) },
      h('summary', {}, label, brackets[0], h('span', { class: 'muted' }, ' ' + entries.length + (Array.isArray(v) ? ' item' : ' key') + (entries.length === 1 ? ' ' : 's ')), brackets[1]),
      entries.map(([k, x]) => node(Array.isArray(v) ? null : k, x, depth + 1)));
    return d;
  };
  return h('div', { class: 'json' }, node(null, value, 0));
}

/* --- a list with keyset paging ------------------------------------------------------------ */
function table(headers, rows, opts) {
  return h('table', { class: 'responsive' + (opts && opts.cls ? ' ' + opts.cls : '') },
    h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows));
}
function rowLink(href, cells, fresh) {
  const tr = h('tr', { class: 'link' + (fresh ? ' fresh' : ''), tabindex: '0', 'data-href': href,
    onclick: (e) => { if (!e.target.closest('a,button,input')) go(href); },
    onkeydown: (e) => { if (e.key === 'Enter') go(href); } }, cells);
  return tr;
}
function td(label, ...kids) { return h('td', { 'data-label': label }, kids); }

/* The filter form: its fields become the URL's query; submitting pushes a new URL. */
function filterForm(fields, params, base) {
  const form = h('form', { class: 'filters', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    const q = {};
    for (const f of fields) {
      const el = form.elements[f.name];
      let v = el.value.trim();
      if (f.type === 'datetime-local' && v) v = String(new Date(v).getTime());
      q[f.name] = v;
    }
    go(base + qs(q));
  } });
  for (const f of fields) {
    let v = params.get(f.name) || '';
    let input;
    if (f.options) {
      input = h('select', { name: f.name, id: 'f-' + f.name },
        h('option', { value: '' }, f.any || 'any'),
        f.options.map((o) => h('option', { value: o, selected: o === v }, o)));
    } else {
      if (f.type === 'datetime-local' && v) {
        const d = new Date(Number(v));
        v = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      }
      input = h('input', { name: f.name, id: 'f-' + f.name, type: f.type || 'text', value: v, placeholder: f.placeholder || '' });
    }
    form.append(h('label', { for: 'f-' + f.name }, f.label, input));
  }
  form.append(h('button', { type: 'submit' }, 'Filter'));
  if (fields.some((f) => params.get(f.name)))
    form.append(link(base, 'Clear filters', { class: 'clear' }));
  return form;
}

async function pagedList(opts) {
  /* opts: path, key, params (URL), headers, row(item, fresh), emptyView */
  const query = {};
  for (const k of opts.keys) query[k] = opts.params.get(k) || '';
  const tbody = h('tbody', {});
  const more = h('div', { class: 'more' });
  const holder = h('div', {});
  let next = null;
  const load = async (before) => {
    const data = await api('GET', opts.path + qs(Object.assign({}, query, { before: before || '', limit: 50 })));
    const items = data[opts.key];
    if (!before && !items.length) { holder.replaceChildren(opts.emptyView); return; }
    if (!before) holder.replaceChildren(h('table', { class: 'responsive' },
      h('thead', {}, h('tr', {}, opts.headers.map((x) => h('th', { scope: 'col' }, x)))), tbody));
    for (const it of items) tbody.append(opts.row(it, false));
    next = data.next;
    more.replaceChildren(next ? h('button', { class: 'secondary', type: 'button', onclick: () => load(next) }, 'Load older') : '');
  };
  await load(null);
  const reload = async () => { tbody.replaceChildren(); await load(null); };
  return { view: [holder, more], reload, tbody };
}

/* --- overview --------------------------------------------------------------------------- */
function chart(counts, cls, label, left) {
  const max = Math.max(1, ...counts);
  const bars = counts.map((c) => { const s = h('span', { title: String(c) }); s.style.height = (100 * c / max) + '%'; return s; });
  return h('div', {}, h('div', { class: 'chart ' + cls, role: 'img', 'aria-label': label }, bars),
    h('div', { class: 'legend' }, h('span', {}, left), h('span', {}, 'max ' + max), h('span', {}, 'now')));
}
function activityPanel(title, a, key, cls, left) {
  const counted = a[key + '_counted'];
  const total = counted >= a.cap ? 'the newest ' + a.cap.toLocaleString() + '+' : counted.toLocaleString();
  return h('section', { class: 'panel' }, h('h2', {}, title), h('div', { class: 'stat' }, total), chart(a[key], cls, title, left));
}
async function overview() {
  const since = Date.now() - 3600 * 1000;
  const [ov, rs] = await Promise.all([api('GET', '/api/overview'), api('GET', '/api/runs' + qs({ since, limit: 500 }))]);
  const byStatus = {};
  for (const r of rs.runs) byStatus[r.status] = (byStatus[r.status] || 0) + 1;
  const act = ov.activity;
  render(
    h('h1', {}, 'Overview'),
    h('div', { class: 'grid charts' },
      activityPanel('Events per minute, last hour', act.hour, 'events', 'events', '60 min ago'),
      activityPanel('Runs per minute, last hour', act.hour, 'runs', 'runs', '60 min ago'),
      activityPanel('Events per hour, last day', act.day, 'events', 'events', '24 h ago'),
      activityPanel('Runs per hour, last day', act.day, 'runs', 'runs', '24 h ago')),
    h('div', { class: 'grid' },
      h('section', { class: 'panel' }, h('h2', {}, 'Runs by status, last hour'),
        Object.keys(byStatus).length ? h('dl', { class: 'kv' }, Object.entries(byStatus).flatMap(([s, n]) => [h('dt', {}, badge(s)), h('dd', {}, link('/runs' + qs({ status: s, since }), String(n)))]))
          : h('p', { class: 'muted' }, 'No runs in the last hour.'),
        rs.runs.length >= 500 ? h('p', { class: 'muted' }, 'Among the latest 500.') : null),
      h('section', { class: 'panel' }, h('h2', {}, 'Queue'),
        h('div', { class: 'stat' }, String(ov.queue.depth)),
        h('p', { class: 'muted' }, ov.queue.depth ? 'runs waiting, the oldest since ' + ago(ov.queue.oldest_ms) : 'no run is waiting'))),
    h('h2', {}, 'Latest failures'),
    ov.latest_failures.length
      ? table(['Run', 'Flow', 'Failed step', 'Error', 'When'], ov.latest_failures.map((r) => rowLink('/runs/' + r.id, [
          td('Run', link('/runs/' + r.id, r.id)), td('Flow', r.flow), td('Failed step', r.failed_step || ''), td('Error', r.error || ''), td('When', ago(r.finished_ms))])))
      : empty('No failed runs.', 'When a run fails, it shows here with its error and a way to retry it.'),
    h('h2', {}, 'Connections'),
    ov.connections.length
      ? table(['Connection', 'Mode', 'Last event', 'Endpoint'], ov.connections.map((c) => h('tr', {},
          td('Connection', link('/inbox' + qs({ connection: c.name }), c.name)), td('Mode', c.mode),
          td('Last event', c.last_event ? [link('/events/' + encodeURIComponent(c.last_event.id), c.last_event.type), ' ', h('span', { class: 'muted' }, ago(c.last_event.received_ms))] : h('span', { class: 'muted' }, 'none yet')),
          td('Endpoint', c.endpoint_url ? h('span', { class: 'mono' }, c.endpoint_url) : h('span', { class: 'muted' }, 'not registered (sluice serve --public-url URL)')))))
      : empty('No connections yet.', h('span', {}, 'Add one with ', h('code', {}, 'sluice connect add NAME --key sk_test_…'), ', then point Stripe at POST /hooks/NAME.')));
  state.refresh = () => { if (state.page === 'overview' && !document.hidden) overview(); };
}

/* --- inbox ------------------------------------------------------------------------------ */
const SOURCES = ['webhook', 'catch-up'];
const TIME_FIELDS = [
  { name: 'since', label: 'From', type: 'datetime-local' },
  { name: 'until', label: 'Until', type: 'datetime-local' },
];
let connNames = null;
async function connectionNames() {
  if (!connNames) connNames = (await api('GET', '/api/connections')).connections.map((c) => c.name);
  return connNames;
}
function eventRow(e, fresh) {
  const href = '/events/' + encodeURIComponent(e.id);
  return rowLink(href, [td('Event', link(href, e.id)), td('Type', h('span', { class: 'mono' }, e.type)), td('Connection', e.connection),
    td('Source', e.source), td('Received', when(e.received_ms))], fresh);
}
async function inbox(params) {
  const names = await connectionNames();
  const form = filterForm([
    { name: 'type', label: 'Type', placeholder: 'invoice.* or invoice.paid' },
    { name: 'connection', label: 'Connection', options: names },
    { name: 'source', label: 'Source', options: SOURCES },
    { name: 'object', label: 'Object id', placeholder: 'data.object.id: cus_…' },
    ...TIME_FIELDS,
  ], params, '/inbox');
  const filtered = ['type', 'connection', 'source', 'object', 'since', 'until'].some((k) => params.get(k));
  const list = await pagedList({
    path: '/api/events', key: 'events', params, keys: ['type', 'connection', 'source', 'object', 'since', 'until'],
    headers: ['Event', 'Type', 'Connection', 'Source', 'Received'], row: eventRow,
    emptyView: filtered ? empty('No event matches these filters.', link('/inbox', 'Show every event'))
      : empty('The inbox is empty.', h('span', {}, 'Events arrive at POST /hooks/CONNECTION on the webhook port. Try ', h('code', {}, 'sluice trigger customer.created'), ', or ', h('code', {}, 'sluice demo'), '.')),
  });
  render(h('h1', {}, 'Inbox'), form, list.view);
  state.refresh = async (kind) => {
    if (kind !== 'events' || state.page !== 'inbox' || params.get('until')) return;
    const before = new Set([...list.tbody.querySelectorAll('tr')].map((tr) => tr.dataset.href));
    await list.reload();
    for (const tr of list.tbody.querySelectorAll('tr')) if (!before.has(tr.dataset.href)) tr.classList.add('fresh');
  };
}

function runRow(r) {
  const href = '/runs/' + r.id;
  return rowLink(href, [td('Run', link(href, r.id)), td('Flow', link('/flows/' + encodeURIComponent(r.flow), r.flow)), td('Status', badge(r.status)),
    td('Error', r.error ? h('span', { class: 'error' }, r.error.length > 120 ? r.error.slice(0, 120) + '…' : r.error) : ''),
    td('Created', when(r.created_ms))]);
}

async function eventPage(params, id) {
  const [ev, rs] = await Promise.all([api('GET', '/api/events/' + encodeURIComponent(id)), api('GET', '/api/runs' + qs({ event: id, limit: 100 }))]);
  const runsBox = h('div', {});
  const showRuns = (list) => runsBox.replaceChildren(list.length ? table(['Run', 'Flow', 'Status', 'Error', 'Created'], list.map(runRow))
    : empty('This event started no run.', 'No enabled flow wanted it when it arrived. Enable or add a flow, then Replay.'));
  showRuns(rs.runs);
  const replay = h('button', { type: 'button', id: 'replay', onclick: async () => {
    replay.disabled = true;
    try {
      const r = await api('POST', '/api/events/' + encodeURIComponent(id) + '/replay');
      toast(r.runs.length ? 'Replayed: ' + r.runs.length + ' run(s) queued' : 'Replayed: no enabled flow wants this event');
      showRuns((await api('GET', '/api/runs' + qs({ event: id, limit: 100 }))).runs);
    } catch (e) { toast('Replay failed: ' + e.message); }
    replay.disabled = false;
  } }, 'Replay');
  render(h('p', {}, link('/inbox', '← Inbox')), h('h1', {}, ev.type, ' ', h('span', { class: 'muted mono' }, ev.id)),
    h('dl', { class: 'kv panel' }, h('dt', {}, 'Connection'), h('dd', {}, link('/inbox' + qs({ connection: ev.connection }), ev.connection)),
      h('dt', {}, 'Source'), h('dd', {}, ev.source), h('dt', {}, 'Received'), h('dd', {}, when(ev.received_ms)),
      h('dt', {}, 'Created (Stripe)'), h('dd', {}, when(ev.created * 1000))),
    h('div', { class: 'actions' }, replay, h('span', { class: 'muted' }, 'Replay queues a new run of every enabled flow that wants this event.')),
    h('h2', {}, 'Runs it started'), runsBox,
    h('h2', {}, 'Payload'), jsonView(ev.payload, 3));
  state.refresh = async (kind, items) => {
    if (kind === 'runs' && items.some((r) => r.event_id === id))
      showRuns((await api('GET', '/api/runs' + qs({ event: id, limit: 100 }))).runs);
  };
}

/* --- runs ------------------------------------------------------------------------------- */
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'filtered'];
let flowNames = null;
async function flowList() {
  if (!flowNames) flowNames = (await api('GET', '/api/flows')).flows.map((f) => f.name);
  return flowNames;
}
async function runs(params) {
  const names = await flowList();
  const keys = ['flow', 'status', 'event', 'since', 'until'];
  const form = filterForm([
    { name: 'flow', label: 'Flow', options: names },
    { name: 'status', label: 'Status', options: STATUSES },
    { name: 'event', label: 'Event id', placeholder: 'evt_…' },
    ...TIME_FIELDS,
  ], params, '/runs');
  const filtered = keys.some((k) => params.get(k));
  const list = await pagedList({
    path: '/api/runs', key: 'runs', params, keys, headers: ['Run', 'Flow', 'Status', 'Error', 'Created'], row: runRow,
    emptyView: filtered ? empty('No run matches these filters.', link('/runs', 'Show every run'))
      : empty('No runs yet.', h('span', {}, 'A run starts when an event arrives that an enabled flow wants, or with Run now on ', link('/flows', 'Flows'), '.')),
  });
  const retryAll = h('button', { type: 'button', class: 'secondary', id: 'retry-all', onclick: async () => {
    retryAll.disabled = true;
    try {
      let total = 0, more = true;
      while (more) {
        const r = await api('POST', '/api/runs/retry-failed' + qs({ flow: params.get('flow'), event: params.get('event'), since: params.get('since'), until: params.get('until') }));
        total += r.retried.length;
        more = r.more && r.retried.length > 0;
      }
      toast(total ? total + ' failed run(s) queued again' : 'No failed run matches the filters');
      await list.reload();
    } catch (e) { toast('Retry failed: ' + e.message); }
    retryAll.disabled = false;
  } }, 'Retry all failed');
  render(h('h1', {}, 'Runs'), form, h('div', { class: 'actions' }, retryAll, h('span', { class: 'muted' }, 'Retries every failed run the filters match (flow, event, time), from its failed step.')), list.view);
  state.refresh = async (kind) => { if (kind === 'runs' && state.page === 'runs' && !params.get('until')) await list.reload(); };
}

/* A step tree from the step records' paths: "each[2].has-email.then.remind" nests the step
 * remind under branch then of has-email, under iteration 2 of the loop each. */
function stepTree(steps) {
  const root = { kids: new Map(), rec: null, label: '' };
  for (const s of steps) {
    const keys = [];
    for (const seg of s.path.split('.')) {
      const m = seg.match(/^(.*)\[(\d+)\]$/);
      if (m) keys.push(m[1], '[' + m[2] + ']');
      else keys.push(seg);
    }
    let node = root;
    for (const k of keys) {
      if (!node.kids.has(k)) node.kids.set(k, { kids: new Map(), rec: null, label: k });
      node = node.kids.get(k);
    }
    node.rec = s;
  }
  return root;
}
function stepView(node, t0, span) {
  const s = node.rec;
  const kids = [...node.kids.values()];
  const sub = kids.length ? h('ul', {}, kids.map((k) => h('li', {}, stepView(k, t0, span)))) : null;
  if (!s) {
    const what = /^\[\d+\]$/.test(node.label) ? 'iteration ' + node.label.slice(1, -1) : node.label === 'then' || node.label === 'else' ? 'branch ' + node.label : node.label;
    return [h('div', { class: 'group' }, what), sub];
  }
  const bar = h('span', {});
  const start = s.started_ms ? s.started_ms - t0 : 0;
  bar.style.left = (100 * Math.max(0, start) / span) + '%';
  bar.style.width = Math.max(0.5, 100 * (s.duration_ms || 0) / span) + '%';
  const failed = s.status !== 'succeeded';
  const body = h('div', { class: 'body' },
    h('dl', { class: 'kv' }, h('dt', {}, 'Path'), h('dd', { class: 'mono' }, s.path), h('dt', {}, 'Kind'), h('dd', {}, s.kind || ''),
      h('dt', {}, 'Started'), h('dd', {}, when(s.started_ms)), h('dt', {}, 'Duration'), h('dd', {}, ms(s.duration_ms)),
      h('dt', {}, 'Attempts'), h('dd', {}, String(s.attempts || 1))),
    s.error ? [h('h3', {}, 'Error'), h('div', { class: 'errorbox' }, s.error)] : null,
    h('h3', {}, 'Input'), s.input === undefined || s.input === null ? h('p', { class: 'muted' }, 'none') : jsonView(s.input, 2),
    h('h3', {}, 'Output'), s.output === undefined || s.output === null ? h('p', { class: 'muted' }, 'none') : jsonView(s.output, 2));
  return [h('details', { class: 'step' + (failed ? ' failed' : ''), open: failed, 'data-path': s.path },
    h('summary', {}, h('span', { class: 'mono' }, node.label), badge(s.status), h('div', { class: 'bar', 'aria-hidden': 'true' }, bar),
      h('span', { class: 'dur' }, ms(s.duration_ms))), body), sub];
}
async function runPage(params, id) {
  const r = await api('GET', '/api/runs/' + encodeURIComponent(id));
  const steps = r.steps || [];
  const starts = steps.map((s) => s.started_ms).filter((x) => x > 0);
  const t0 = starts.length ? Math.min(...starts) : (r.started_ms || 0);
  const end = Math.max(t0 + 1, ...steps.map((s) => (s.started_ms || t0) + (s.duration_ms || 0)));
  const tree = stepTree(steps);
  const retry = r.status === 'failed' ? h('button', { type: 'button', id: 'retry', onclick: async () => {
    retry.disabled = true;
    try {
      await api('POST', '/api/runs/' + encodeURIComponent(id) + '/retry');
      toast('Queued again: it resumes at ' + (r.failed_step || 'the failed step'));
      await runPage(params, id);
    } catch (e) { toast('Retry failed: ' + e.message); retry.disabled = false; }
  } }, 'Retry from the failed step') : null;
  render(h('p', {}, link('/runs', '← Runs')),
    h('h1', {}, r.flow, ' ', badge(r.status), ' ', h('span', { class: 'muted mono' }, r.id)),
    r.error ? h('div', { class: 'errorbox', id: 'run-error' }, h('strong', {}, 'Failed at ' + (r.failed_step || '?') + ': '), r.error) : null,
    h('div', { class: 'actions' }, retry, r.status === 'failed' ? h('span', { class: 'muted' }, 'Fix the cause (a connection, a flow file, the data in Stripe), then retry: the steps that succeeded are not repeated.') : null),
    h('dl', { class: 'kv panel' },
      h('dt', {}, 'Flow'), h('dd', {}, link('/flows/' + encodeURIComponent(r.flow), r.flow)),
      h('dt', {}, 'Trigger event'), h('dd', {}, r.event_id ? link('/events/' + encodeURIComponent(r.event_id), r.event_id, { id: 'event-link' }) : h('span', { class: 'muted' }, r.input !== null ? 'run by hand or by schedule' : 'none')),
      h('dt', {}, 'Attempt'), h('dd', {}, String(r.attempt)),
      h('dt', {}, 'Created'), h('dd', {}, when(r.created_ms)),
      h('dt', {}, 'Started'), h('dd', {}, when(r.started_ms)),
      h('dt', {}, 'Finished'), h('dd', {}, when(r.finished_ms))),
    r.input !== null && r.input !== undefined ? [h('h2', {}, 'Input'), jsonView(r.input, 2)] : null,
    h('h2', {}, 'Steps ', h('span', { class: 'muted' }, '(bars: when each ran, ' + (end - t0).toFixed(0) + ' ms in all)')),
    steps.length ? h('ul', { class: 'tree' }, [...tree.kids.values()].map((k) => h('li', {}, stepView(k, t0, end - t0))))
      : empty(r.status === 'queued' || r.status === 'running' ? 'No step has finished yet.' : 'This run recorded no steps.', r.status === 'filtered' ? 'Its flow\'s filter did not let the event through.' : ''));
  state.refresh = async (kind, items) => { if (kind === 'runs' && items.some((x) => x.id === id) && state.page === 'runs') await runPage(params, id); };
}

/* --- flows ------------------------------------------------------------------------------ */
function toggle(f, after) {
  const input = h('input', { type: 'checkbox', role: 'switch', checked: f.enabled, 'aria-label': 'Enabled: ' + f.name, 'data-flow': f.name });
  input.addEventListener('change', async () => {
    input.disabled = true;
    try {
      const r = await api('POST', '/api/flows/' + encodeURIComponent(f.name) + '/' + (input.checked ? 'enable' : 'disable'));
      input.checked = r.enabled;
      toast(f.name + (r.enabled ? ' enabled' : ' disabled'));
      if (after) after(r);
    } catch (e) { input.checked = !input.checked; toast(e.message); }
    input.disabled = false;
  });
  return h('label', { class: 'switch' }, input, h('span', {}, 'enabled'));
}
function triggerText(f) {
  return f.trigger === 'events' ? (f.events || []).join(', ') : f.trigger === 'schedule' ? 'cron ' + f.schedule : 'by hand';
}
async function flows() {
  const data = await api('GET', '/api/flows');
  flowNames = data.flows.map((f) => f.name);
  const last = await Promise.all(data.flows.map((f) => api('GET', '/api/runs' + qs({ flow: f.name, limit: 5 })).then((r) => r.runs, () => [])));
  render(h('h1', {}, 'Flows'),
    (data.load_errors || []).length ? h('div', { class: 'errorbox', id: 'load-errors' }, h('strong', {}, 'Flow files that do not load (their last good version keeps running):'),
      h('ul', {}, data.load_errors.map((e) => h('li', { class: 'mono' }, e)))) : null,
    data.flows.length ? table(['Flow', 'Enabled', 'Trigger', 'Connection', 'Last runs'], data.flows.map((f, i) => h('tr', {},
      td('Flow', link('/flows/' + encodeURIComponent(f.name), f.name)), td('Enabled', toggle(f)), td('Trigger', h('span', { class: 'mono' }, triggerText(f))),
      td('Connection', f.connection), td('Last runs', last[i].length ? last[i].map((r) => [link('/runs/' + r.id, badge(r.status)), ' ']) : h('span', { class: 'muted' }, 'none')))))
      : empty('No flows loaded.', h('span', {}, 'Put flow files (YAML) in the flows directory (sluice serve --flows DIR, default DATA/flows); see examples/flows/. ', h('code', {}, 'sluice flows validate DIR'), ' checks them.')));
  state.refresh = (kind) => { if (kind === 'runs' && state.page === 'flows' && location.pathname === '/flows') flows(); };
}
async function flowPage(params, name) {
  const f = await api('GET', '/api/flows/' + encodeURIComponent(name));
  const last = (await api('GET', '/api/runs' + qs({ flow: name, limit: 10 }))).runs;
  const input = h('textarea', { id: 'run-input', 'aria-label': 'Input (JSON)', spellcheck: 'false' }, '{}');
  const out = h('p', { role: 'status' });
  const runNow = h('button', { type: 'submit', id: 'run-now' }, 'Run now');
  const form = h('form', { class: 'panel', onsubmit: async (e) => {
    e.preventDefault();
    out.textContent = '';
    out.className = '';
    try { JSON.parse(input.value || '{}'); } catch (err) { out.className = 'error'; out.textContent = 'The input is not JSON: ' + err.message; return; }
    runNow.disabled = true;
    try {
      const r = await api('POST', '/api/flows/' + encodeURIComponent(name) + '/run', input.value || '{}');
      out.replaceChildren('Queued ', link('/runs/' + r.run, r.run));
    } catch (err) { out.className = 'error'; out.textContent = err.message; }
    runNow.disabled = false;
  } }, h('h2', {}, 'Run now'), h('p', { class: 'muted' }, 'Queues a run with this input as $.input (and no trigger event).'), input, h('div', { class: 'actions' }, runNow), out);
  render(h('p', {}, link('/flows', '← Flows')), h('h1', {}, f.name),
    h('dl', { class: 'kv panel' }, h('dt', {}, 'Enabled'), h('dd', {}, toggle(f)), h('dt', {}, 'Trigger'), h('dd', { class: 'mono' }, triggerText(f)),
      h('dt', {}, 'Connection'), h('dd', {}, f.connection || '—'), h('dt', {}, 'File'), h('dd', { class: 'mono' }, f.file), h('dt', {}, 'Steps'), h('dd', {}, String(f.steps))),
    form,
    h('h2', {}, 'Last runs ', link('/runs' + qs({ flow: name }), 'all')),
    last.length ? table(['Run', 'Flow', 'Status', 'Error', 'Created'], last.map(runRow)) : empty('This flow has not run yet.', 'Run it now above, or send an event it wants.'),
    h('h2', {}, 'Definition'), jsonView(f.definition, 4));
}

/* --- connections, contacts -------------------------------------------------------------- */
async function connections() {
  const data = await api('GET', '/api/connections');
  connNames = data.connections.map((c) => c.name);
  render(h('h1', {}, 'Connections'),
    data.connections.length ? table(['Name', 'Mode', 'Account', 'Key', 'Webhook secret', 'Endpoint'], data.connections.map((c) => h('tr', {},
      td('Name', link('/inbox' + qs({ connection: c.name }), c.name)), td('Mode', c.mode), td('Account', h('span', { class: 'mono' }, c.account_id || '—')),
      td('Key', h('span', { class: 'mono' }, c.key)), td('Webhook secret', c.webhook_secret ? (c.rotating ? 'set (rotating)' : 'set') : h('span', { class: 'error' }, 'none: webhooks are refused')),
      td('Endpoint', c.endpoint_url ? [h('span', { class: 'mono' }, c.endpoint_url), h('br'), h('span', { class: 'muted mono' }, c.endpoint_id || ''),
        c.endpoint_events ? h('div', { class: 'endpoint-events' }, ...c.endpoint_events.map((t) => h('span', { class: 'mono tag' }, t, ' '))) : ''] : h('span', { class: 'muted' }, 'not registered')))))
      : empty('No connections yet.', h('span', {}, 'Add one with ', h('code', {}, 'sluice connect add NAME --key sk_test_… --webhook-secret whsec_…'), '.')),
    h('p', { class: 'muted' }, 'Keys and secrets are kept sealed and never shown here.'));
}
async function contacts() {
  const data = await api('GET', '/api/contacts');
  render(h('h1', {}, 'Contacts'),
    data.contacts.length ? table(['Email', 'First name', 'Last name', 'Updated'], data.contacts.map((c) => h('tr', {},
      td('Email', c.email), td('First name', c.first_name || ''), td('Last name', c.last_name || ''), td('Updated', when(c.updated_ms)))))
      : empty('No contacts yet.', 'Flows with a contact step (for example loops-sync-customers-to-contacts) add them.'));
}

route();
