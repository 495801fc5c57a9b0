// The dashboard's HTML and CSS, served by the admin server at / and
// /dashboard.css. The page holds no data: its script (dashboard-script.ts)
// fetches /api/series and /api/status every second and draws them with uPlot,
// served from the installed uplot package (no CDN: it works offline). The
// layout is one column on a phone and a grid of charts on a laptop.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hopper</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/uplot.min.css">
<link rel="stylesheet" href="/dashboard.css">
</head>
<body>
<header>
  <h1>Hopper</h1>
  <span id="about" class="about">connecting&hellip;</span>
  <span id="state" class="state"></span>
</header>
<form id="token-form" hidden>
  <label>Admin token <input id="token" type="password" autocomplete="current-password" required></label>
  <button type="submit">Show</button>
  <span>This server's admin API needs its admin.token.</span>
</form>
<section class="tiles" aria-label="now">
  <div class="tile"><b id="t-req">-</b><span>requests/s</span></div>
  <div class="tile" id="tile-evt" hidden><b id="t-evt">-</b><span>events/s (decoded)</span></div>
  <div class="tile"><b id="t-rec">-</b><span>records stored/s</span></div>
  <div class="tile"><b id="t-p99">-</b><span>ack p99</span></div>
  <div class="tile"><b id="t-lag">-</b><span>lag (records)</span></div>
  <div class="tile"><b id="t-dlq">-</b><span>dead letters</span></div>
  <div class="tile"><b id="t-mem">-</b><span>memory (RSS)</span></div>
</section>
<ul id="warnings" class="warnings"></ul>
<main class="charts">
  <figure><figcaption>Requests, events and records per second</figcaption><div class="chart" id="c-rates"></div></figure>
  <figure><figcaption>Ack latency (ms)</figcaption><div class="chart" id="c-latency"></div></figure>
  <figure><figcaption>Lag per group (records)</figcaption><div class="chart" id="c-lag"></div></figure>
  <figure><figcaption>Dead letters pending</figcaption><div class="chart" id="c-dead"></div></figure>
  <figure><figcaption>Memory (MB, all processes)</figcaption><div class="chart" id="c-memory"></div></figure>
</main>
<footer id="footer"></footer>
<script src="/uplot.iife.min.js"></script>
<script src="/dashboard.js"></script>
</body>
</html>
`;

export const DASHBOARD_CSS = `
:root { --bg: #f6f7f9; --card: #fff; --ink: #1d2330; --muted: #667085; --line: #e3e6eb; --warn-bg: #fff4e5; --warn: #8a4b00; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #14171c; --card: #1d2128; --ink: #e8eaed; --muted: #9aa3b2; --line: #2c323c; --warn-bg: #3a2a12; --warn: #ffc880; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 12px; background: var(--bg); color: var(--ink); font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px; margin-bottom: 10px; }
h1 { font-size: 20px; margin: 0; }
.about, footer { color: var(--muted); }
.state { margin-left: auto; font-size: 12px; color: var(--muted); }
.state.down { color: #d92d20; font-weight: 600; }
#token-form { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 10px; margin-bottom: 10px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; }
#token-form[hidden] { display: none; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(130px, 1fr)); gap: 8px; margin-bottom: 10px; }
.tile[hidden] { display: none; }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 10px; }
.tile b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
.tile span { color: var(--muted); font-size: 12px; }
.warnings { list-style: none; margin: 0 0 10px; padding: 0; }
.warnings li { background: var(--warn-bg); color: var(--warn); border-radius: 6px; padding: 6px 10px; margin-bottom: 6px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(100%, 440px), 1fr)); gap: 10px; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
.chart { width: 100%; min-height: 200px; position: relative; }
.chart .empty { position: absolute; inset: 40% 0 auto; text-align: center; color: var(--muted); }
.uplot, .u-legend { color: var(--ink); font-family: inherit; }
.u-legend { font-size: 12px; }
footer { margin-top: 10px; font-size: 12px; }
@media (max-width: 600px) { body { padding: 8px; } .tile b { font-size: 18px; } .chart { min-height: 170px; } }
`;
