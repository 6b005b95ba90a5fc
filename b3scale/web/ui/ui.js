// b3scale's dashboard: polls /ui/api/overview every few seconds and fills the tables.
// Data goes into the page as text only (never as markup).
"use strict";

const REFRESH_MS = 3000;

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

// A backend by its host name (what operators call it; a phone's width has no room for the
// whole API URL), the whole URL on hover.
function hostCell(row, url) {
  const short = (url || "").replace(/^https?:\/\//, "").replace(/\/bigbluebutton\/api\/?$/, "");
  const td = cell(row, short);
  if (url) td.title = url;
  return td;
}

// The load over the last hour, placed by time (samples come every 30 s from the cluster's
// database; a gap, when no instance ran, stays a gap in time).
function sparkline(samples, now) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 120 24");
  svg.setAttribute("role", "img");
  const shown = (samples || []).filter((s) => s[0] >= now - 3600);
  const loads = shown.map((s) => s[1]);
  const top = Math.max(1, ...loads);
  svg.setAttribute("aria-label", loads.length ? `load over the last hour, now ${loads[loads.length - 1]}` : "no samples yet");
  const line = document.createElementNS(ns, "polyline");
  const x = (t) => Math.max(0, Math.min(120, (120 * (t - (now - 3600))) / 3600));
  line.setAttribute("points", shown.map((s) => `${x(s[0]).toFixed(1)},${(23 - (s[1] / top) * 22).toFixed(1)}`).join(" "));
  svg.appendChild(line);
  return svg;
}

async function changeState(backend, state) {
  const verb = state === "ready" ? "Enable" : "Disable";
  const note = state === "ready" ? "It will take new meetings." : "It takes no new meetings; running ones go on.";
  if (!window.confirm(`${verb} ${backend.host}? ${note}`)) return;
  const response = await fetch(`/ui/api/backends/${backend.id}/state`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-B3scale-UI": "1" },
    body: JSON.stringify({ admin_state: state }),
  });
  if (!response.ok) window.alert(`${verb} failed: HTTP ${response.status}`);
  refresh();
}

function renderBackends(data) {
  const body = document.querySelector("#backends tbody");
  const rows = data.backends.slice().sort((a, b) => (a.healthy - b.healthy) || (b.load - a.load));
  body.replaceChildren(...rows.map((b) => {
    const row = document.createElement("tr");
    row.dataset.host = b.host;
    hostCell(row, b.host);
    cell(row, b.admin_state, b.admin_state === "ready" ? "" : "bad");
    cell(row, b.healthy ? "healthy" : `down (${b.node_state})`, b.healthy ? "ok" : "bad");
    cell(row, b.meetings_count, "num meetings");
    cell(row, b.attendees_count, "num");
    cell(row, Math.round(b.load), "num");
    cell(row, b.latency ? `${(b.latency / 1e6).toFixed(0)} ms` : "", "num");
    cell(row, (b.tags || []).join(", "));
    cell(row, b.last_error, "error");
    cell(row, "").appendChild(sparkline(data.history[b.id], data.now));
    const action = cell(row, "");
    const button = document.createElement("button");
    const enable = b.admin_state !== "ready";
    button.textContent = enable ? "Enable" : "Disable";
    button.addEventListener("click", () => changeState(b, enable ? "ready" : "stopped"));
    action.appendChild(button);
    return row;
  }));
}

function renderFrontends(data) {
  const body = document.querySelector("#frontends tbody");
  body.replaceChildren(...data.frontends.map((f) => {
    const row = document.createElement("tr");
    cell(row, f.key);
    cell(row, f.meetings, "num");
    cell(row, f.attendees, "num");
    cell(row, f.limits);
    return row;
  }));
}

function renderMeetings(data) {
  const query = document.getElementById("search").value.trim().toLowerCase();
  const body = document.querySelector("#meetings tbody");
  const shown = data.meetings.filter((m) => !query ||
    [m.meeting, m.frontend, m.backend].some((v) => (v || "").toLowerCase().includes(query)));
  body.replaceChildren(...shown.map((m) => {
    const row = document.createElement("tr");
    cell(row, m.meeting);
    cell(row, m.frontend);
    hostCell(row, m.backend);
    cell(row, m.attendees, "num");
    cell(row, m.running ? new Date(m.since).toLocaleString() : "not started");
    return row;
  }));
}

let latest = null;

async function refresh() {
  try {
    const response = await fetch("/ui/api/overview", { cache: "no-store" });
    if (response.status === 401) { window.location.replace("/ui/"); return; }
    latest = await response.json();
  } catch (error) {
    document.getElementById("summary").textContent = `The cluster does not answer: ${error}`;
    return;
  }
  const down = latest.backends.filter((b) => !b.healthy).length;
  const meetings = latest.backends.reduce((n, b) => n + b.meetings_count, 0);
  const attendees = latest.backends.reduce((n, b) => n + b.attendees_count, 0);
  const summary = document.getElementById("summary");
  summary.textContent = `${latest.backends.length} backends (${down} down), ${meetings} meetings, ${attendees} attendees`;
  summary.className = down ? "bad" : "";
  renderBackends(latest);
  renderFrontends(latest);
  renderMeetings(latest);
}

async function loginFromFragment() {
  const match = window.location.hash.match(/^#login=(.+)$/);
  if (!match) return false;
  history.replaceState(null, "", "/ui/");
  await fetch("/ui/login", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: decodeURIComponent(match[1]) }),
  });
  window.location.replace("/ui/");
  return true;
}

document.addEventListener("DOMContentLoaded", async () => {
  if (document.body.classList.contains("login")) {
    if (await loginFromFragment()) return;
    if (new URLSearchParams(window.location.search).get("login") === "failed") {
      document.getElementById("failed").hidden = false;
    }
    return;
  }
  document.getElementById("search").addEventListener("input", () => latest && renderMeetings(latest));
  refresh();
  setInterval(refresh, REFRESH_MS);
});
