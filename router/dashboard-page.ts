import { createHash } from 'node:crypto';

/**
 * The router's dashboard at GET /_router/: one static page (no build step,
 * no library, nothing fetched from elsewhere: it works offline) that polls
 * /_router/status and /_router/stats every 2 s and draws
 * - a cluster-health banner: all good, degraded (N of M workers down or
 *   drained) or down (no routable worker);
 * - a card per worker: request rate, 4xx/s, 5xx/s, p50/p99 upstream latency,
 *   open partitions, live streams, in flight and users seen, with small
 *   inline-SVG charts of the history the router keeps (stats-history.ts),
 *   so a freshly opened page shows the last minutes at once;
 * - links to /metrics and /docs.
 * Every drain asks for confirmation, naming the worker and how many recently
 * seen users move; draining the last routable worker (409 last_worker) asks
 * a second, explicit time before it is sent again with ?force=true.
 * When the router has an admin token, the page asks for it once (on the
 * first 401), keeps it in sessionStorage (this tab only) and sends it in the
 * Authorization header, nowhere else.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pinbase router</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  :root { --ok: #2e9e5b; --warn: #c9862f; --bad: #c93c3c; --ink: #1d2330; --muted: #5b6475; --line: #e3e6ec; --c1: #4b6fd6; --c2: #c9862f; --c3: #c93c3c; }
  body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: var(--ink); background: #f4f5f8; }
  header { display: flex; align-items: baseline; gap: 1rem; flex-wrap: wrap; padding: 1rem 2rem .6rem; background: #fff; border-bottom: 1px solid var(--line); }
  h1 { font-size: 1.25rem; margin: 0; }
  header nav { margin-left: auto; display: flex; gap: 1rem; align-items: baseline; }
  header a { color: var(--c1); text-decoration: none; } header a:hover { text-decoration: underline; }
  main { padding: 1rem 2rem 2rem; }
  .meta { color: var(--muted); margin: .2rem 0 1rem; }
  #banner { padding: .7rem 1rem; border-radius: 6px; font-weight: 600; margin-bottom: .6rem; border: 1px solid; }
  #banner.ok { background: #e8f6ee; border-color: #b5e0c6; color: #1f6e40; }
  #banner.degraded { background: #fdf3e3; border-color: #efd29f; color: #8a5a14; }
  #banner.down { background: #c93c3c; border-color: #a52c2c; color: #fff; }
  #banner.unknown { background: #eef0f4; border-color: var(--line); color: var(--muted); }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(21rem, 1fr)); gap: 1rem; }
  .card { background: #fff; border: 1px solid var(--line); border-top: 4px solid var(--ok); border-radius: 6px; padding: .8rem 1rem; }
  .card.down { border-top-color: var(--bad); } .card.drained { border-top-color: var(--warn); }
  .card h2 { font-size: 1.05rem; margin: 0; display: flex; align-items: center; gap: .5rem; }
  .card h2 button { margin-left: auto; font-size: .85rem; font-weight: 500; }
  .badge { font-size: .75rem; font-weight: 600; padding: .05rem .45rem; border-radius: 9px; color: #fff; background: var(--ok); }
  .badge.down { background: var(--bad); } .badge.drained { background: var(--warn); }
  .url { color: var(--muted); font-size: .85rem; margin: .1rem 0 .5rem; overflow-wrap: anywhere; }
  .figures { display: grid; grid-template-columns: repeat(4, 1fr); gap: .3rem .6rem; margin-bottom: .5rem; }
  .figure span { display: block; font-size: 1.1rem; font-weight: 600; font-variant-numeric: tabular-nums; }
  .figure small, .chart-title { color: var(--muted); font-size: .75rem; }
  .figure.bad span { color: var(--bad); }
  .chart-title { display: flex; gap: .7rem; margin-top: .3rem; }
  .chart-title i { display: inline-block; width: .7rem; height: 2px; vertical-align: middle; margin-right: .2rem; }
  svg.chart { display: block; width: 100%; height: 46px; background: #fafbfc; border: 1px solid var(--line); border-radius: 3px; }
  button { font: inherit; padding: .15rem .6rem; border: 1px solid #c5cad5; border-radius: 4px; background: #fff; cursor: pointer; }
  button:hover { background: #f0f2f6; }
  #error { color: var(--bad); }
  #signin { margin: 1rem 0; padding: .8rem 1rem; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
  select { font: inherit; }
</style>
</head>
<body>
<header>
  <h1>Pinbase router</h1>
  <nav>
    <label>history <select id="window"><option value="1m">1 min</option><option value="5m" selected>5 min</option><option value="10m">10 min</option></select></label>
    <a href="/metrics">Prometheus metrics</a>
    <a href="/docs">API docs</a>
  </nav>
</header>
<main>
<div id="banner" class="unknown">loading…</div>
<div class="meta" id="meta"></div>
<form id="signin" hidden>
  <label>This router needs its admin token: <input type="password" id="token" autocomplete="off" size="48"></label>
  <button>Sign in</button>
</form>
<p id="error"></p>
<div class="cards" id="cards"></div>
</main>
<script>
'use strict';
// The admin token, when the router has one: asked for once, kept for this tab
// only (sessionStorage), sent in the Authorization header and nowhere else.
const TOKEN_KEY = 'pinbaseAdminToken';
const SVG = 'http://www.w3.org/2000/svg';
const CHART_WIDTH = 300;
const CHART_HEIGHT = 46;
// Line colours (SVG attributes take no CSS variables).
const BLUE = '#4b6fd6';
const AMBER = '#c9862f';
const RED = '#c93c3c';
let needToken = false;
let latest = { status: undefined, stats: undefined };

function el(tag, props, ...children) {
  const { dataset, ...rest } = props;
  const e = Object.assign(document.createElement(tag), rest);
  if (dataset) Object.assign(e.dataset, dataset);
  e.append(...children);
  return e;
}
function svg(tag, attributes) {
  const e = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) e.setAttribute(name, String(value));
  return e;
}
function showError(text) {
  document.getElementById('error').textContent = text;
}
function call(path, method) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return fetch(path, { method, cache: 'no-store', headers: token ? { authorization: 'Bearer ' + token } : {} });
}
function askForToken() {
  needToken = true;
  sessionStorage.removeItem(TOKEN_KEY);
  document.getElementById('signin').hidden = false;
  document.getElementById('token').focus();
}
async function problemText(response) {
  try {
    const problem = await response.json();
    return problem.title + (problem.detail ? ': ' + problem.detail : '');
  } catch {
    return 'HTTP ' + response.status;
  }
}

// Figures: a rate with one decimal under 10, a latency in ms with two under 1.
function formatRate(value) {
  if (value === null || value === undefined) return '–';
  return value < 10 ? value.toFixed(1) : String(Math.round(value));
}
function formatMs(value) {
  if (value === null || value === undefined) return '–';
  return (value < 1 ? value.toFixed(2) : value < 10 ? value.toFixed(1) : String(Math.round(value))) + ' ms';
}
function formatCount(value) {
  return value === null || value === undefined ? '–' : String(value);
}
function last(series) {
  for (let i = series.length - 1; i >= 0; i--) if (series[i] !== null) return series[i];
  return null;
}

// A small chart: one line per series (gaps where a value is null), scaled to the highest value shown. The time
// axis spans the history there is, at least 30 s and at most the window, so a young router's lines are not a sliver.
function chart(name, times, windowMs, lines, format) {
  const box = svg('svg', { class: 'chart', 'data-chart': name, viewBox: '0 0 ' + CHART_WIDTH + ' ' + CHART_HEIGHT, preserveAspectRatio: 'none', role: 'img' });
  const end = times.length > 0 ? times[times.length - 1] : Date.now();
  const span = Math.min(windowMs, Math.max(30000, times.length > 0 ? end - times[0] : 0));
  let top = 0;
  for (const line of lines) for (const value of line.values) if (value !== null && value > top) top = value;
  const scale = top > 0 ? top * 1.15 : 1;
  for (const line of lines) {
    let d = '';
    let pen = false;
    line.values.forEach((value, i) => {
      if (value === null) {
        pen = false;
        return;
      }
      const x = (CHART_WIDTH * (times[i] - (end - span))) / span;
      const y = CHART_HEIGHT - 2 - ((CHART_HEIGHT - 4) * value) / scale;
      d += (pen ? 'L' : 'M') + x.toFixed(1) + ' ' + y.toFixed(1);
      pen = true;
    });
    if (d !== '') box.append(svg('path', { d, fill: 'none', stroke: line.color, 'stroke-width': 1.5, 'vector-effect': 'non-scaling-stroke', 'data-series': line.name }));
  }
  const peak = svg('text', { x: 4, y: 11, 'font-size': 10, fill: '#5b6475' });
  peak.textContent = 'max ' + format(top);
  box.append(peak);
  const title = svg('title', {});
  title.textContent = name + ' over the last ' + Math.round(span / 1000) + ' s';
  box.append(title);
  return box;
}
function legend(text, lines) {
  return el('div', { className: 'chart-title' }, el('b', { textContent: text }),
    ...lines.map((line) => el('span', {}, el('i', { style: 'background:' + line.color }), line.label)));
}
function figure(label, metric, text, bad) {
  return el('div', { className: 'figure' + (bad ? ' bad' : '') }, el('span', { textContent: text, dataset: { metric } }), el('small', { textContent: label }));
}

function renderBanner(stats) {
  const banner = document.getElementById('banner');
  const c = stats.cluster;
  const out = c.workers - c.routable;
  const why = [...c.down.map((id) => id + ' down'), ...c.drained.filter((id) => !c.down.includes(id)).map((id) => id + ' drained')].join(', ');
  banner.className = c.state;
  banner.textContent = c.state === 'ok'
    ? 'All good: ' + c.workers + ' of ' + c.workers + ' workers routable'
    : c.state === 'degraded'
      ? 'Degraded: ' + out + ' of ' + c.workers + ' workers down or drained (' + why + '); their users are served by the others'
      : 'Down: no routable worker (' + (why || 'no worker in the topology') + '); every request is refused';
}

function renderCard(series, worker, stats) {
  const state = worker.health === 'down' ? 'down' : worker.drained ? 'drained' : 'up';
  const button = el('button', { textContent: worker.drained ? 'Undrain' : 'Drain', onclick: () => act(worker.id, worker.drained ? 'undrain' : 'drain') });
  const requests = [
    { name: 'requestRate', label: 'req/s', color: BLUE, values: series.requestRate },
    { name: 'errorRate4xx', label: '4xx/s', color: AMBER, values: series.errorRate4xx },
    { name: 'errorRate5xx', label: '5xx/s', color: RED, values: series.errorRate5xx },
  ];
  const latency = [
    { name: 'p50Ms', label: 'p50', color: BLUE, values: series.p50Ms },
    { name: 'p99Ms', label: 'p99', color: RED, values: series.p99Ms },
  ];
  const load = [
    { name: 'openPartitions', label: 'open partitions', color: BLUE, values: series.openPartitions },
    { name: 'liveStreams', label: 'live streams', color: AMBER, values: series.liveStreams },
  ];
  const rate5xx = last(series.errorRate5xx);
  return el('section', { className: 'card ' + state, dataset: { worker: worker.id } },
    el('h2', {}, el('span', { textContent: worker.id }),
      el('span', { className: 'badge ' + state, textContent: state === 'up' ? 'up' : state === 'down' ? 'down' + (worker.reason ? ': ' + worker.reason : '') : 'drained' }),
      button),
    el('div', { className: 'url', textContent: worker.url + ' · ' + worker.users + ' users seen recently · ' + worker.inFlight + ' in flight' }),
    el('div', { className: 'figures' },
      figure('req/s', 'requestRate', formatRate(last(series.requestRate))),
      figure('4xx/s', 'errorRate4xx', formatRate(last(series.errorRate4xx))),
      figure('5xx/s', 'errorRate5xx', formatRate(rate5xx), rate5xx > 0),
      figure('live streams', 'liveStreams', formatCount(last(series.liveStreams))),
      figure('p50', 'p50Ms', formatMs(last(series.p50Ms))),
      figure('p99', 'p99Ms', formatMs(last(series.p99Ms))),
      figure('open partitions', 'openPartitions', formatCount(last(series.openPartitions))),
      figure('streams via router', 'streams', formatCount(last(series.streams)))),
    legend('Requests', requests), chart('requests', stats.times, stats.windowMs, requests, formatRate),
    legend('Upstream latency', latency), chart('latency', stats.times, stats.windowMs, latency, formatMs),
    legend('Load', load), chart('load', stats.times, stats.windowMs, load, formatCount));
}

function render() {
  const { status, stats } = latest;
  if (status === undefined || stats === undefined) return;
  renderBanner(stats);
  document.getElementById('meta').textContent =
    'topology v' + status.topologyVersion + ' · ' + status.processes + ' router process(es) · ' + status.totals.users + ' users seen recently · ' +
    status.totals.inFlight + ' in flight · ' + status.totals.requests + ' requests since start · a sample every ' + stats.intervalMs / 1000 + ' s';
  document.getElementById('cards').replaceChildren(...status.workers.map((worker) => {
    const series = stats.workers.find((w) => w.id === worker.id);
    return series === undefined ? el('section', { className: 'card', textContent: worker.id }) : renderCard(series, worker, stats);
  }));
}

// Every drain asks first; the last routable worker asks a second time, explicitly, and only then is forced.
async function act(id, action) {
  const path = '/_router/workers/' + encodeURIComponent(id) + '/' + action;
  if (action === 'drain') {
    const worker = latest.status && latest.status.workers.find((w) => w.id === id);
    const others = latest.status ? latest.status.workers.filter((w) => w.routable && w.id !== id).map((w) => w.id) : [];
    const users = worker ? worker.users : 0;
    const question = 'Drain worker ' + id + '?\\n\\n' + users + ' recently seen user(s) move from ' + id + ' to ' +
      (others.length > 0 ? others.join(', ') : 'no other worker (none is routable)') + '. The worker keeps running and is still probed; undrain gives them back.';
    if (!confirm(question)) return;
  }
  let response = await call(path, 'POST');
  if (response.status === 409) {
    const problem = await response.json();
    if (problem.code === 'last_worker' && confirm(id + ' is the last worker that receives users: draining it makes every request fail until a worker is back.\\n\\nDrain the last worker anyway?')) {
      response = await call(path + '?force=true', 'POST');
    } else {
      refresh();
      return;
    }
  }
  if (response.status === 401) askForToken();
  else if (!response.ok) showError(action + ' ' + id + ': ' + (await problemText(response)));
  refresh();
}

async function refresh() {
  if (needToken) return;
  try {
    const span = document.getElementById('window').value;
    const [status, stats] = await Promise.all([call('/_router/status', 'GET'), call('/_router/stats?window=' + span, 'GET')]);
    if (status.status === 401 || stats.status === 401) {
      askForToken();
      return;
    }
    for (const response of [status, stats]) {
      if (!response.ok) {
        showError(response.url + ': ' + (await problemText(response)));
        return;
      }
    }
    latest = { status: await status.json(), stats: await stats.json() };
    render();
    showError('');
  } catch (error) {
    const banner = document.getElementById('banner');
    banner.className = 'down';
    banner.textContent = 'Cannot reach the router: is it running?';
    showError(String(error));
  }
}
document.getElementById('signin').addEventListener('submit', (event) => {
  event.preventDefault();
  const input = document.getElementById('token');
  if (input.value === '') return;
  sessionStorage.setItem(TOKEN_KEY, input.value);
  input.value = '';
  needToken = false;
  document.getElementById('signin').hidden = true;
  refresh();
});
document.getElementById('window').addEventListener('change', () => refresh());
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
`;

/** The base64 SHA-256 of the text between `open` and `close` in the page: a CSP hash source. */
function inlineHash(open: string, close: string): string {
  const start = DASHBOARD_HTML.indexOf(open) + open.length;
  const text = DASHBOARD_HTML.slice(start, DASHBOARD_HTML.indexOf(close, start));
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/**
 * The page's response headers. It holds an admin token and drain buttons,
 * so it runs only its own inline script and style (by their hashes), talks
 * only to this router, cannot be framed by another page (no clickjacking of
 * a drain), and sends no referrer.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': [
    "default-src 'none'",
    `script-src ${inlineHash('<script>', '</script>')}`,
    `style-src ${inlineHash('<style>', '</style>')}`,
    "connect-src 'self'",
    "img-src 'self' data:",
    "form-action 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join('; '),
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
