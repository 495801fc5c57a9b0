// The dashboard's browser script, served as /dashboard.js (plain ES2017, no
// build step). Every REFRESH_MS it fetches /api/series (the last points of the
// server's one-second samples) and /api/status, then redraws five uPlot charts
// and the tiles (events/s only where workers run: ingest never parses bodies,
// so events are counted as workers decode them). It never overlaps two refreshes. The admin token, when the
// server needs one, comes from the page's #token=... fragment (never sent to the
// server in a URL) or the form, and is kept in sessionStorage.
// window.hopperDashboard exposes what the charts show (tests read it).

export const DASHBOARD_JS = String.raw`(function () {
  'use strict';
  var REFRESH_MS = 1000;
  var POINTS = 300;
  var COLORS = ['#2563eb', '#16a34a', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#ea580c'];
  var TOKEN_KEY = 'hopperAdminToken';
  // Tick steps of the count charts: whole numbers only (half a dead letter is no tick).
  var COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

  var state = { updates: 0, failures: 0, lastError: null, series: null, status: null, charts: {} };
  window.hopperDashboard = state;
  state.chartData = function () {
    var out = {};
    Object.keys(state.charts).forEach(function (k) { out[k] = state.charts[k].data; });
    return out;
  };
  state.chartLabels = function () {
    var out = {};
    Object.keys(state.charts).forEach(function (k) { out[k] = state.charts[k].hopperLabels.split('\n'); });
    return out;
  };

  var token = '';
  try { token = sessionStorage.getItem(TOKEN_KEY) || ''; } catch (e) { /* storage off */ }
  // Not URLSearchParams: it reads '+' as a space, and base64 tokens (openssl rand -base64) hold '+'.
  var hashToken = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
  var fromHash = hashToken ? hashToken[1] : '';
  try { fromHash = decodeURIComponent(fromHash); } catch (e) { /* a bare '%': the token as written */ }
  if (fromHash) {
    token = fromHash;
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage off */ }
    history.replaceState(null, '', location.pathname + location.search);
  }

  function $(id) { return document.getElementById(id); }

  function fmtCount(n) {
    if (n === null || n === undefined || !isFinite(n)) return '-';
    if (Math.abs(n) >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (Math.abs(n) >= 1e4) return (n / 1e3).toFixed(1) + 'k';
    if (Math.abs(n) < 10 && n % 1 !== 0) return n.toFixed(1);
    return String(Math.round(n));
  }
  function fmtMs(ms) {
    if (ms === null || ms === undefined || !isFinite(ms)) return '-';
    if (ms === 0) return '0 ms';
    if (ms < 1) return ms.toFixed(2) + ' ms';
    if (ms < 10) return ms.toFixed(1) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    return (ms / 1000).toFixed(1) + ' s';
  }
  function fmtBytes(b) {
    if (!isFinite(b)) return '-';
    var units = ['B', 'KB', 'MB', 'GB', 'TB'];
    var u = 0;
    while (b >= 1024 && u < units.length - 1) { b /= 1024; u++; }
    return (u === 0 || b >= 100 ? Math.round(b) : b.toFixed(1)) + ' ' + units[u];
  }
  function fmtUptime(s) {
    s = Math.floor(s);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    if (m > 0) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }
  function last(arr) {
    for (var i = arr.length - 1; i >= 0; i--) if (arr[i] !== null && arr[i] !== undefined) return arr[i];
    return null;
  }

  function api(path) {
    var headers = token ? { Authorization: 'Bearer ' + token } : {};
    return fetch(path, { headers: headers, cache: 'no-store' }).then(function (r) {
      if (r.status === 401) {
        $('token-form').hidden = false;
        throw new Error('the admin API needs its token');
      }
      if (r.ok) return r.json();
      // The API's JSON error says what to do (a 403 names the Host rule): show it rather than the bare status.
      return r.json().then(function (body) {
        var message = body && body.error && body.error.message;
        throw new Error(path + ': HTTP ' + r.status + (message ? ': ' + message : ''));
      }, function () {
        throw new Error(path + ': HTTP ' + r.status);
      });
    });
  }

  $('token-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    token = $('token').value;
    try { sessionStorage.setItem(TOKEN_KEY, token); } catch (e) { /* storage off */ }
    $('token-form').hidden = true;
  });

  // Chart definitions: which series each chart draws, from /api/series.
  var DEFS = {
    rates: { el: 'c-rates', fmt: fmtCount, incrs: COUNT_INCRS, lines: function (s) {
      var workers = s.processedPerSecond.some(function (v) { return v !== null; });
      var out = [['requests/s', s.requestsPerSecond]];
      if (workers) out.push(['events/s', s.eventsPerSecond]);
      out.push(['records stored/s', s.recordsPerSecond]);
      if (workers) out.push(['records processed/s', s.processedPerSecond]);
      return out;
    } },
    latency: { el: 'c-latency', fmt: fmtMs, lines: function (s) { return [['p50', s.ackP50Ms], ['p99', s.ackP99Ms]]; } },
    lag: { el: 'c-lag', fmt: fmtCount, incrs: COUNT_INCRS, empty: 'no consumer group has a position yet', lines: function (s) {
      return Object.keys(s.lag).map(function (k) { return [k.replace('/', ' \u2190 '), s.lag[k]]; });
    } },
    dead: { el: 'c-dead', fmt: fmtCount, incrs: COUNT_INCRS, lines: function (s) { return [['pending', s.deadLettersPending]]; } },
    memory: { el: 'c-memory', fmt: function (v) { return v === null ? '-' : v.toFixed(0) + ' MB'; }, lines: function (s) {
      var mb = function (arr) { return arr.map(function (v) { return v / 1048576; }); };
      return [['RSS', mb(s.rssBytes)], ['heap used', mb(s.heapUsedBytes)]];
    } },
  };

  function chartHeight() { return window.innerWidth < 600 ? 170 : 210; }

  function makeChart(name, def, labels, data) {
    var el = $(def.el);
    el.innerHTML = '';
    var series = [{}].concat(labels.map(function (label, i) {
      return { label: label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false, value: function (u, v) { return def.fmt(v); } };
    }));
    var yAxis = { stroke: '#888', size: 64, values: function (u, vals) { return vals.map(def.fmt); } };
    if (def.incrs) yAxis.incrs = def.incrs;
    var opts = {
      width: Math.max(200, el.clientWidth),
      height: chartHeight(),
      series: series,
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, max > 0 ? max * 1.1 : 1]; } } },
      axes: [{ stroke: '#888' }, yAxis],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    var chart = new uPlot(opts, data, el);
    chart.hopperLabels = labels.join('\n');
    state.charts[name] = chart;
    return chart;
  }

  function draw(name, def, s) {
    var lines = def.lines(s);
    var el = $(def.el);
    if (lines.length === 0) {
      if (state.charts[name]) { state.charts[name].destroy(); delete state.charts[name]; }
      el.innerHTML = '<div class="empty">' + (def.empty || 'no data yet') + '</div>';
      return;
    }
    var labels = lines.map(function (l) { return l[0]; });
    var data = [s.t].concat(lines.map(function (l) { return l[1]; }));
    var chart = state.charts[name];
    if (!chart || chart.hopperLabels !== labels.join('\n')) {
      if (chart) chart.destroy();
      makeChart(name, def, labels, data);
    } else {
      chart.setData(data);
    }
  }

  function resize() {
    Object.keys(state.charts).forEach(function (name) {
      var el = $(DEFS[name].el);
      state.charts[name].setSize({ width: Math.max(200, el.clientWidth), height: chartHeight() });
    });
  }
  if (window.ResizeObserver) new ResizeObserver(resize).observe(document.querySelector('.charts'));
  else window.addEventListener('resize', resize);

  function showStatus(st, s) {
    var rss = last(s.rssBytes);
    var lag = 0;
    st.groups.forEach(function (g) { lag += g.lag; });
    var r = st.rates;
    $('t-req').textContent = r ? fmtCount(r.requestsPerSecond) : '-';
    $('tile-evt').hidden = !r || r.eventsPerSecond === null;
    $('t-evt').textContent = r && r.eventsPerSecond !== null ? fmtCount(r.eventsPerSecond) : '-';
    $('t-rec').textContent = r ? fmtCount(r.recordsPerSecond) : '-';
    $('t-p99').textContent = r && r.ackLatencyP99Seconds !== null ? fmtMs(r.ackLatencyP99Seconds * 1000) : '-';
    $('t-lag').textContent = st.groups.length ? fmtCount(lag) : '-';
    $('t-dlq').textContent = fmtCount(st.deadLetters.pending);
    $('t-mem').textContent = rss === null ? '-' : fmtBytes(rss);
    var acks = st.ack.default + (st.durableIsFsync ? '' : ' (no fsync)');
    $('about').textContent = 'v' + st.version + ' \u00b7 ' + st.backend + ' log \u00b7 ack ' + acks + ' \u00b7 up ' + fmtUptime(st.uptimeSeconds) +
      (st.ingestProcesses ? ' \u00b7 ' + st.ingestProcesses.reporting + '/' + st.ingestProcesses.expected + ' ingest processes' : '');
    var ul = $('warnings');
    ul.innerHTML = '';
    st.warnings.forEach(function (w) {
      var li = document.createElement('li');
      li.textContent = w;
      ul.appendChild(li);
    });
    $('footer').textContent = st.streams.length + ' stream(s) \u00b7 data in ' + st.dataDir + ' \u00b7 ingest ' + (st.listen.ingest.join(', ') || '-');
  }

  function refresh() {
    return Promise.all([api('/api/series?points=' + POINTS), api('/api/status?lagHistory=0')]).then(function (res) {
      var s = res[0], st = res[1];
      state.series = s;
      state.status = st;
      Object.keys(DEFS).forEach(function (name) { draw(name, DEFS[name], s); });
      showStatus(st, s);
      state.updates++;
      state.lastError = null;
      $('state').textContent = 'live \u00b7 updated ' + new Date().toLocaleTimeString();
      $('state').className = 'state';
    }).catch(function (err) {
      state.failures++;
      state.lastError = String(err && err.message || err);
      $('state').textContent = 'not updating: ' + state.lastError;
      $('state').className = 'state down';
    });
  }

  function loop() {
    var started = Date.now();
    refresh().then(function () { setTimeout(loop, Math.max(0, REFRESH_MS - (Date.now() - started))); });
  }
  loop();
})();
`;
