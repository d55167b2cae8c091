/// The coordinator's live page (`GET /ui`): one self-contained HTML document (inline style and
/// script, no external asset, so it works on an air-gapped cluster) that polls `/status` every
/// second and shows the workers (state, ISA, images/s, heartbeat age), the jobs (progress bar,
/// tasks done and written, ETA) and a plot of the cluster's images per second over the last two
/// minutes, derived from the status document's `images_processed` counter. Every value from the
/// status document is inserted as text, never as markup.
enum StatusPage {
    static let html = #"""
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Octet cluster</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; margin: 0 0 .2em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; min-width: 40em; } th, td { padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: left; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.bar { width: 12em; height: .9em; background: #eee; display: inline-block; vertical-align: middle; }
.bar > div { height: 100%; background: #3a7; }
.state-busy { color: #06c; } .state-lost, .state-failed { color: #c22; } .state-done { color: #3a7; }
#summary { color: #555; } #error { color: #c22; }
svg { border: 1px solid #ddd; background: #fcfcfc; }
</style>
</head>
<body>
<h1>Octet cluster</h1>
<div id="summary">connecting…</div>
<div id="error"></div>
<h2>Throughput (images/s, last 2 minutes)</h2>
<svg id="plot" width="720" height="160" viewBox="0 0 720 160" role="img" aria-label="images per second">
  <polyline id="line" fill="none" stroke="#06c" stroke-width="2" points=""></polyline>
  <text id="peak" x="6" y="14" font-size="12" fill="#555"></text>
</svg>
<h2>Workers</h2>
<table id="workers"><thead><tr><th>worker</th><th>state</th><th>ISA</th><th>host</th><th>threads</th><th>images/s</th><th>tasks done</th><th>task</th><th>heartbeat</th></tr></thead><tbody></tbody></table>
<h2>Jobs</h2>
<table id="jobs"><thead><tr><th>job</th><th>kind</th><th>model</th><th>state</th><th>progress</th><th>tasks</th><th>written</th><th>ETA</th><th>error</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const samples = [];  // [seconds, images_processed]
function cell(row, text, cls) { const td = row.insertCell(); td.textContent = text; if (cls) td.className = cls; return td; }
function fill(id, items, draw) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const item of items) draw(body.insertRow(), item);
}
function duration(s) { if (!(s > 0)) return "–"; if (s < 90) return s.toFixed(0) + " s"; return (s / 60).toFixed(1) + " min"; }
function plot() {
  const now = samples.length ? samples[samples.length - 1][0] : 0;
  const rates = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = samples[i][0] - samples[i - 1][0];
    if (dt > 0) rates.push([samples[i][0], Math.max(0, samples[i][1] - samples[i - 1][1]) / dt]);
  }
  const peak = Math.max(1, ...rates.map(r => r[1]));
  document.getElementById("line").setAttribute("points",
    rates.map(([t, r]) => (720 - (now - t) * 6).toFixed(1) + "," + (155 - r / peak * 135).toFixed(1)).join(" "));
  const last = rates.length ? rates[rates.length - 1][1] : 0;
  document.getElementById("peak").textContent = "now " + last.toFixed(1) + " images/s, peak " + peak.toFixed(1);
}
function render(s) {
  const busy = s.workers.filter(w => w.state === "busy").length;
  document.getElementById("summary").textContent = s.workers.length + " workers (" + busy + " busy), " + s.jobs.length + " jobs, " +
    s.tasks_pending + " tasks pending, " + s.images_processed + " images processed, up " + duration(s.uptime_seconds) +
    ", protocol " + s.protocol_version;
  fill("workers", s.workers, (row, w) => {
    cell(row, w.id); cell(row, w.state, "state-" + w.state); cell(row, w.isa); cell(row, w.host); cell(row, w.threads, "num");
    cell(row, w.images_per_second.toFixed(1), "num"); cell(row, w.tasks_done, "num");
    cell(row, w.job ? w.job + " #" + w.task : "–"); cell(row, w.last_heartbeat_seconds_ago.toFixed(1) + " s ago", "num");
  });
  fill("jobs", s.jobs.slice().reverse(), (row, j) => {
    cell(row, j.id); cell(row, j.kind); cell(row, j.model);
    cell(row, j.waiting_for_client ? "waiting for its client" : j.state, "state-" + j.state);
    const td = row.insertCell(), bar = document.createElement("div"), inner = document.createElement("div");
    bar.className = "bar"; inner.style.width = (100 * j.progress).toFixed(1) + "%"; bar.appendChild(inner); td.appendChild(bar);
    td.appendChild(document.createTextNode(" " + (100 * j.progress).toFixed(1) + "%"));
    cell(row, j.tasks_done + " / " + j.tasks_total, "num");
    cell(row, j.tasks_written === undefined ? "–" : String(j.tasks_written), "num");
    cell(row, j.state === "done" || j.state === "failed" || j.waiting_for_client ? "–" : duration(j.eta_seconds), "num");
    cell(row, j.error || "");
  });
}
async function poll() {
  try {
    const response = await fetch("/status", { cache: "no-store" });
    if (!response.ok) throw new Error("HTTP " + response.status);
    const s = await response.json();
    samples.push([performance.now() / 1000, s.images_processed]);
    while (samples.length && samples[samples.length - 1][0] - samples[0][0] > 120) samples.shift();
    render(s); plot();
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot read /status: " + e.message;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
"""#
}
