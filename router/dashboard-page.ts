/**
 * The router's dashboard at GET /_router/: one static page that polls
 * /_router/status every second and draws the cluster map (each worker, its
 * health and share of users) and the workers table, with drain buttons.
 * When the router has an admin token, the page asks for it once (on the
 * first 401), keeps it in sessionStorage (this tab only) and sends it in the
 * Authorization header; draining the last routable worker (409 last_worker)
 * asks for confirmation before it is sent again with ?force=true.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Pinbase router</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2rem; color: #1d2330; background: #f7f8fa; }
  h1 { font-size: 1.3rem; margin: 0 0 .2rem; }
  .meta { color: #5b6475; margin-bottom: 1.2rem; }
  .map { display: flex; gap: .6rem; flex-wrap: wrap; margin-bottom: 1.5rem; }
  .node { background: #fff; border: 2px solid #2e9e5b; border-radius: 8px; padding: .6rem .8rem; min-width: 9rem; }
  .node.down { border-color: #c93c3c; opacity: .75; }
  .node.drained { border-color: #c9962f; }
  .node b { font-size: 1.05rem; }
  .bar { height: 6px; background: #e3e6ec; border-radius: 3px; margin-top: .4rem; }
  .bar i { display: block; height: 6px; background: #4b6fd6; border-radius: 3px; }
  table { border-collapse: collapse; background: #fff; min-width: 40rem; }
  th, td { text-align: left; padding: .35rem .7rem; border-bottom: 1px solid #e3e6ec; }
  th { font-weight: 600; color: #5b6475; }
  td.n { text-align: right; font-variant-numeric: tabular-nums; }
  .up { color: #2e9e5b; } .down { color: #c93c3c; }
  button { font: inherit; padding: .1rem .5rem; }
  #error { color: #c93c3c; }
  #signin { margin: 1rem 0; }
</style>
</head>
<body>
<h1>Pinbase router</h1>
<div class="meta" id="meta">loading…</div>
<div class="map" id="map"></div>
<table>
  <thead><tr><th>Worker</th><th>URL</th><th>Health</th><th>Drained</th><th>Users</th><th>In flight</th><th>Streams</th><th>Requests</th><th></th></tr></thead>
  <tbody id="rows"></tbody>
</table>
<form id="signin" hidden>
  <label>This router needs its admin token: <input type="password" id="token" autocomplete="off" size="48"></label>
  <button>Sign in</button>
</form>
<p id="error"></p>
<script>
// The admin token, when the router has one: asked for once, kept for this tab
// only (sessionStorage), sent in the Authorization header and nowhere else.
const TOKEN_KEY = 'pinbaseAdminToken';
let needToken = false;
function el(tag, props, ...children) {
  const e = Object.assign(document.createElement(tag), props);
  e.append(...children);
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
async function act(id, action) {
  const path = '/_router/workers/' + encodeURIComponent(id) + '/' + action;
  let response = await call(path, 'POST');
  if (response.status === 409) {
    const problem = await response.json();
    if (problem.code === 'last_worker' && confirm(id + ' is the last worker that receives users: draining it makes every request fail until a worker is back.\\n\\nDrain it anyway?')) {
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
function render(s) {
  document.getElementById('meta').textContent =
    'topology v' + s.topologyVersion + ' · ' + s.processes + ' process(es) · ' + s.totals.users + ' users seen recently · ' +
    s.totals.inFlight + ' in flight · ' + s.totals.requests + ' requests';
  const most = Math.max(1, ...s.workers.map((w) => w.users));
  document.getElementById('map').replaceChildren(...s.workers.map((w) => {
    const bar = el('div', { className: 'bar' }, el('i', { style: 'width:' + (100 * w.users / most) + '%' }));
    const cls = 'node' + (w.health === 'down' ? ' down' : '') + (w.drained ? ' drained' : '');
    return el('div', { className: cls }, el('b', { textContent: w.id }), el('div', { textContent: w.users + ' users · ' + (w.drained ? 'drained' : w.health) }), bar);
  }));
  document.getElementById('rows').replaceChildren(...s.workers.map((w) => {
    const button = el('button', { textContent: w.drained ? 'undrain' : 'drain', onclick: () => act(w.id, w.drained ? 'undrain' : 'drain') });
    return el('tr', {},
      el('td', { textContent: w.id }), el('td', { textContent: w.url }),
      el('td', { className: w.health, textContent: w.health + (w.reason ? ' (' + w.reason + ')' : '') }),
      el('td', { textContent: w.drained ? 'yes' : 'no' }),
      el('td', { className: 'n', textContent: String(w.users) }), el('td', { className: 'n', textContent: w.inFlight }),
      el('td', { className: 'n', textContent: String(w.streams ?? 0) }),
      el('td', { className: 'n', textContent: w.requests }), el('td', {}, button));
  }));
}
async function refresh() {
  if (needToken) return;
  try {
    const response = await call('/_router/status', 'GET');
    if (response.status === 401) {
      askForToken();
      return;
    }
    if (!response.ok) {
      showError('status: ' + (await problemText(response)));
      return;
    }
    render(await response.json());
    showError('');
  } catch (error) {
    showError('cannot reach the router: ' + error);
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
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
