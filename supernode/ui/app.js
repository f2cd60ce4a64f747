// SPDX-License-Identifier: Apache-2.0
// The dashboard's script: reads the supernode's JSON API with the admin token and redraws.
'use strict';

(() => {
  // Everything shown comes from the network: it is set as text, never as
  // markup, so a URL or a host name cannot become part of the page.
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c);
    return e;
  };

  const params = new URLSearchParams(location.hash.slice(1));
  const refreshMs = Math.max(250, Number(params.get('refresh')) || 1000);
  // The token travels in the fragment (never sent to the server, never in
  // its logs) and is taken out of the address bar at once.
  if (params.has('token')) {
    sessionStorage.setItem('damselfly-admin-token', params.get('token'));
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + (rest ? '#' + rest : ''));
  }
  let token = sessionStorage.getItem('damselfly-admin-token') || '';
  let selected = params.get('task') || '';
  let timer = null;

  const bytes = (n) => {
    if (n < 0) return '?';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; ++i; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  };
  const rate = (n) => bytes(n) + '/s';
  // As the task list shows sources: a signed URL's query is not put on screen.
  const withoutQuery = (url) => {
    const cut = url.search(/[?#]/);
    return cut < 0 ? url : url.slice(0, cut) + '?\u2026';
  };
  const ago = (ms) => (ms < 1000 ? 'now' : Math.round(ms / 1000) + ' s ago');
  const num = (text, title) => el('td', title ? { class: 'num', text, title } : { class: 'num', text });

  function status(text, bad) {
    $('status').textContent = text;
    $('status').classList.toggle('error', !!bad);
  }

  async function get(path) {
    const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
    if (r.status === 401 || r.status === 403) {
      const body = await r.json().catch(() => ({}));
      const e = new Error((body.error && body.error.message) || 'not allowed');
      e.auth = true;
      throw e;
    }
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  function drawTasks(list) {
    const body = $('tasks').tBodies[0];
    body.replaceChildren();
    $('tasks-count').textContent = '(' + list.tasks.length + ')';
    if (!list.tasks.some((t) => t.task_id === selected))
      selected = list.tasks.length ? list.tasks[0].task_id : '';
    for (const t of list.tasks) {
      const size = t.content_length;
      const ratio = size > 0 ? ' (' + (t.origin_bytes / size).toFixed(2) + 'x)' : '';
      const pieces = t.piece_count >= 0 ? t.cached_pieces + '/' + t.piece_count : String(t.cached_pieces);
      const row = el('tr', { 'data-task-id': t.task_id, class: t.task_id === selected ? 'selected' : '' },
        el('td', { text: t.task_id.slice(0, 12), title: t.task_id }),
        el('td', { class: 'url', text: t.url, title: t.url }),
        el('td', { class: 'phase-' + t.phase, text: t.phase,
                   title: t.error ? t.error.message : '' }),
        num(bytes(size)), num(pieces), num(String(t.peers)),
        num(bytes(t.origin_bytes) + ratio), num(bytes(t.served_bytes)), num(bytes(t.peer_bytes)),
        num(t.idle_s + ' s'));
      row.addEventListener('click', () => { selected = t.task_id; refresh(); });
      body.append(row);
    }
    if (!list.tasks.length)
      body.append(el('tr', {}, el('td', { class: 'empty', colspan: '10', text: 'no tasks yet' })));
  }

  // Holders per piece to a colour: none is red, more holders go to green.
  function colour(holders, most) {
    if (holders === 0) return 'hsl(4, 70%, 48%)';
    const f = most > 1 ? Math.log(holders) / Math.log(most) : 1;
    return 'hsl(' + Math.round(40 + 90 * f) + ', 60%, ' + Math.round(62 - 22 * f) + '%)';
  }

  const maxCells = 4096;
  function drawPieces(map) {
    const grid = $('heatmap');
    grid.replaceChildren();
    grid.setAttribute('data-task-id', map ? map.task_id : '');
    if (!map) {
      $('heatmap-title').textContent = '';
      grid.append(el('span', { class: 'empty', text: 'no task selected' }));
      return;
    }
    const n = map.holders.length;
    const most = n ? Math.max(...map.holders) : 0;
    // Past maxCells pieces a cell stands for a run of pieces: the fewest holders among them.
    const per = Math.max(1, Math.ceil(n / maxCells));
    $('heatmap-title').textContent = map.task_id.slice(0, 12) + ': ' + n + ' pieces' +
      (per > 1 ? ', ' + per + ' per cell' : '') + ', most held by ' + most + ' peers';
    grid.setAttribute('data-pieces', String(n));
    for (let first = 0; first < n; first += per) {
      const last = Math.min(n, first + per);
      let holders = Infinity, cached = true;
      for (let i = first; i < last; ++i) {
        holders = Math.min(holders, map.holders[i]);
        cached = cached && map.cached[i] === '1';
      }
      const cell = el('div', {
        class: cached ? 'cell cached' : 'cell', 'data-piece': String(first),
        'data-holders': String(holders), 'data-cached': cached ? '1' : '0',
        title: (per > 1 ? 'pieces ' + first + '-' + (last - 1) : 'piece ' + first) + ': ' +
               holders + (holders === 1 ? ' holder' : ' holders') + (cached ? ', cached' : ''),
      });
      cell.style.backgroundColor = colour(holders, most);
      grid.append(cell);
    }
    const legend = $('heatmap-legend');
    legend.replaceChildren();
    for (const h of most > 0 ? [0, 1, most] : [0]) {
      const swatch = el('span', { class: 'cell' });
      swatch.style.backgroundColor = colour(h, most);
      legend.append(el('span', {}, swatch, h + (h === 1 ? ' holder' : ' holders')));
    }
    const outlined = el('span', { class: 'cell cached' });
    outlined.style.backgroundColor = 'transparent';
    legend.append(el('span', {}, outlined, 'in the supernode\u2019s cache'));
  }

  function drawHosts(list) {
    const body = $('hosts').tBodies[0];
    body.replaceChildren();
    $('hosts-count').textContent = '(' + list.hosts.length + '; supernode sends ' +
      rate(list.supernode_upload_rate) + ', ' + bytes(list.supernode_uploaded_bytes) + ' in all)';
    for (const h of list.hosts) {
      body.append(el('tr', { 'data-host': h.host },
        el('td', { text: h.host }), el('td', { text: h.upload_addr }), el('td', { text: h.address }),
        el('td', { text: h.idc }), el('td', { text: h.location }), num(String(h.tasks)),
        num(rate(h.download_rate)), num(rate(h.upload_rate)),
        num(bytes(h.downloaded_bytes)), num(bytes(h.uploaded_bytes)), num(ago(h.last_seen_ms))));
    }
    if (!list.hosts.length)
      body.append(el('tr', {}, el('td', { class: 'empty', colspan: '11', text: 'no hosts heard from' })));
  }

  function progress(done, total) {
    const bar = el('span', { class: 'bar' }, el('span'));
    const f = total > 0 ? Math.min(1, done / total) : 0;
    bar.firstChild.style.width = (100 * f).toFixed(1) + '%';
    return bar;
  }

  function drawJobs(list) {
    const box = $('jobs');
    box.replaceChildren();
    $('jobs-count').textContent = '(' + list.jobs.length + ')';
    for (const j of list.jobs) {
      const hosts = el('table', { class: 'job-hosts' });
      for (const t of j.hosts) {
        hosts.append(el('tr', { 'data-host': t.host },
          el('td', { text: t.host }), el('td', { class: 'state-' + t.state, text: t.state }),
          el('td', {}, progress(t.bytes, j.content_length)), num(bytes(t.bytes)),
          el('td', { text: t.error || '' })));
      }
      box.append(el('div', { class: 'job', 'data-job-id': j.id },
        el('div', { class: 'job-head' },
          el('strong', { text: j.id }), el('span', { class: 'state-' + j.state, text: j.state }),
          el('span', { text: j.request.scope }),
          el('span', { class: 'url', text: withoutQuery(j.request.url) }),
          el('span', { text: j.hosts_done + '/' + j.hosts_total + ' hosts done' +
                            (j.hosts_failed ? ', ' + j.hosts_failed + ' failed' : '') }),
          el('span', { text: j.error ? j.error.message : '' })),
        hosts));
    }
    if (!list.jobs.length) box.append(el('p', { class: 'empty', text: 'no jobs' }));
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const [tasks, hosts, jobs] = await Promise.all(
        [get('/api/v1/tasks'), get('/api/v1/hosts'), get('/api/v1/jobs')]);
      drawTasks(tasks);
      const map = selected
        ? await get('/api/v1/tasks/' + encodeURIComponent(selected) + '/pieces').catch(() => null)
        : null;
      drawPieces(map);
      drawHosts(hosts);
      drawJobs(jobs);
      document.body.dataset.refreshes = String(Number(document.body.dataset.refreshes) + 1);
      status('updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      status(e.message, true);
      if (e.auth) {
        showLogin();
        return;
      }
    }
    timer = setTimeout(refresh, refreshMs);
  }

  function showLogin() {
    $('board').hidden = true;
    $('login').hidden = false;
  }

  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    sessionStorage.setItem('damselfly-admin-token', token);
    $('login').hidden = true;
    $('board').hidden = false;
    refresh();
  });

  if (token) {
    $('board').hidden = false;
    refresh();
  } else {
    status('the admin token is needed');
    showLogin();
  }
})();
