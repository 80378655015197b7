// leadgate event inspector: plain DOM, no build step. Every value is inserted with textContent,
// never as HTML, so an event carrying "<script>" shows as text (docs/reliability.md D3).
"use strict";

const API = "/inspector/api";
const state = { rows: new Map(), selected: null, filters: {}, source: null };
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, options) {
  const response = await fetch(API + path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (response.status === 401) { showLogin(); throw new Error("unauthorized"); }
  const body = await response.json();
  if (!response.ok) throw new Error((body.error && body.error.message) || response.statusText);
  return body;
}

function showLogin() {
  $("login").hidden = false;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("status").textContent = "signed out";
  if (new URLSearchParams(location.search).get("login") === "failed") $("login-failed").hidden = false;
}

function formatTime(row) {
  const value = row.receivedAt || (row.updatedAt ? new Date(row.updatedAt * 1000).toISOString() : "");
  const date = new Date(value);
  return isNaN(date) ? String(value) : date.toLocaleTimeString();
}

function outcomeCell(outcome, reason) {
  return el("span", {}, el("span", { class: "badge " + outcome }, outcome),
    reason ? el("span", { class: "reason" }, reason) : null);
}

function renderRow(row) {
  const tr = el("tr", { "data-message-id": row.messageId, "data-outcome": row.outcome },
    el("td", {}, formatTime(row)),
    el("td", {}, row.event || row.type || ""),
    el("td", { class: "email" }, row.email || ""),
    el("td", {}, outcomeCell(row.outcome, row.reason)));
  tr.addEventListener("click", () => select(row.messageId));
  if (row.messageId === state.selected) tr.classList.add("selected");
  return tr;
}

function upsertRow(row) {
  const old = state.rows.get(row.messageId);
  state.rows.set(row.messageId, row);
  const fresh = renderRow(row);
  const tbody = $("rows");
  const existing = old && tbody.querySelector(`tr[data-message-id="${CSS.escape(row.messageId)}"]`);
  if (existing) existing.replaceWith(fresh); else tbody.prepend(fresh);
  $("empty").hidden = state.rows.size > 0;
}

function filtersActive() { return Object.values(state.filters).some((v) => v); }

async function loadList() {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(state.filters)) if (value) params.set(key, value);
  params.set("limit", "200");
  const body = await api("/events?" + params.toString());
  state.rows.clear();
  $("rows").replaceChildren();
  for (const row of body.events.slice().reverse()) upsertRow(row);
  $("empty").hidden = state.rows.size > 0;
}

function pre(value) { return el("pre", {}, JSON.stringify(value, null, 2)); }

function kv(pairs) {
  const table = el("table", { class: "kv" });
  for (const [key, value] of pairs) {
    if (value === null || value === undefined || value === "") continue;
    table.append(el("tr", {}, el("td", {}, key), el("td", {}, typeof value === "object" ? JSON.stringify(value) : value)));
  }
  return table;
}

function stagesTable(stages) {
  const body = el("tbody");
  for (const stage of stages || []) {
    body.append(el("tr", { "data-stage": stage.stage },
      el("td", {}, stage.stage),
      el("td", {}, el("span", { class: "badge " + stage.status }, stage.status)),
      el("td", { class: "reason" }, stage.reason || ""),
      el("td", {}, stage.detail || "")));
  }
  return el("table", { class: "stages" },
    el("thead", {}, el("tr", {}, el("th", {}, "stage"), el("th", {}, "verdict"), el("th", {}, "reason"), el("th", {}, "detail"))), body);
}

function exchangeBlock(exchange) {
  return el("div", { class: "exchange", "data-status": String(exchange.status) },
    el("div", {}, el("strong", {}, `${exchange.method} ${exchange.path}`), ` → ${exchange.status ?? "no response"} `,
      el("span", { class: "reason" }, `${exchange.latency_ms} ms · attempt ${exchange.attempt}`)),
    exchange.error ? el("div", { class: "error" }, exchange.error) : null,
    Object.keys(exchange.rate_limit || {}).length ? kv(Object.entries(exchange.rate_limit)) : null,
    exchange.document ? el("div", {}, el("h3", {}, "document sent"), pre(exchange.document)) : null,
    exchange.response ? el("div", {}, el("h3", {}, "response"), pre(exchange.response)) : null);
}

function renderTrace(trace, target, title) {
  const exchanges = trace.exchanges || [];
  const parts = [
    el("h2", {}, title),
    el("div", { class: "outcome", "data-outcome": trace.outcome }, outcomeCell(trace.outcome, trace.reason)),
    kv([["messageId", trace.messageId], ["type", trace.type], ["event", trace.event],
      ["received", trace.receivedAt], ["email", trace.email], ["prospect", trace.prospectId],
      ["action", trace.action], ["detail", trace.detail]]),
    el("h3", {}, "stages"), stagesTable(trace.stages),
    el("h3", {}, "normalised fields"), pre(trace.normalized || {}),
    trace.document ? el("div", {}, el("h3", {}, "prospect document mapped by the preset (the requests below are what was sent)"), pre(trace.document)) : null,
    el("h3", {}, `requests to Outreach (${exchanges.length})`),
    ...exchanges.map(exchangeBlock),
    trace.input ? el("div", {}, el("h3", {}, "event as received"), pre(trace.input)) : null];
  target.replaceChildren(...parts.filter((part) => part !== null));
}

async function select(messageId) {
  state.selected = messageId;
  for (const tr of $("rows").children) tr.classList.toggle("selected", tr.dataset.messageId === messageId);
  try {
    renderTrace(await api("/events/" + encodeURIComponent(messageId)), $("detail"), "Trace");
  } catch (error) {
    $("detail").replaceChildren(el("h2", {}, "Trace"), el("p", { class: "error" }, error.message));
  }
}

let refetch = null;
function connectStream() {
  if (state.source) state.source.close();
  const source = new EventSource(API + "/stream");
  state.source = source;
  source.addEventListener("open", () => { $("status").textContent = "live"; $("status").className = "status live"; });
  source.addEventListener("error", () => { $("status").textContent = "reconnecting…"; $("status").className = "status"; });
  source.addEventListener("trace", (message) => {
    const row = JSON.parse(message.data);
    if (filtersActive()) {
      clearTimeout(refetch);
      refetch = setTimeout(() => loadList().catch(() => {}), 250);
    } else {
      upsertRow(row);
    }
    if (row.messageId === state.selected) select(row.messageId);
  });
}

async function loadPresets() {
  const body = await api("/presets");
  const failing = body.presets.filter((p) => p.lastError);
  const banner = $("preset-error");
  banner.hidden = failing.length === 0;
  banner.textContent = failing.map((p) => `Preset ${p.path}: the last edit did not load, "${p.name}" stays live.\n${p.lastError}`).join("\n\n");
}

async function loadHealth() {
  const body = await api("/health");
  const banner = $("worker-problems");
  banner.hidden = body.problems.length === 0;
  banner.textContent = body.problems.map((p) => `Not processing: ${p}`).join("\n");
}

const SAMPLE = {
  type: "track", event: "Lead Submitted", anonymousId: "try-anon-1",
  properties: { plan: "pro" },
  context: { traits: { email: "jane.doe@acme.com", firstName: "Jane", company: "Acme" },
    consent: { categoryPreferences: { marketing: true } } },
};

async function tryEvent() {
  const target = $("try-result");
  let event;
  try { event = JSON.parse($("try-input").value); } catch (error) {
    target.replaceChildren(el("p", { class: "error" }, "Not JSON: " + error.message)); return;
  }
  try {
    const trace = await api("/try", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(event) });
    renderTrace(trace, target, trace.wouldSend ? "Dry run: would be sent" : "Dry run: would be dropped");
  } catch (error) {
    target.replaceChildren(el("p", { class: "error" }, error.message));
  }
}

async function start() {
  $("try-input").value = JSON.stringify(SAMPLE, null, 2);
  $("try-run").addEventListener("click", tryEvent);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    state.filters = Object.fromEntries(new FormData($("filters")).entries());
    loadList().catch(() => {});
  });
  $("filter-clear").addEventListener("click", () => {
    $("filters").reset(); state.filters = {}; loadList().catch(() => {});
  });
  try { await loadList(); } catch (error) { return; }
  $("login").hidden = true; $("app").hidden = false; $("logout").hidden = false;
  connectStream();
  // The demo page links to /inspector#<messageId>: open that trace.
  const openHash = () => { if (location.hash.length > 1) select(decodeURIComponent(location.hash.slice(1))); };
  window.addEventListener("hashchange", openHash);
  openHash();
  loadPresets().catch(() => {});
  setInterval(() => loadPresets().catch(() => {}), 5000);
  loadHealth().catch(() => {});
  setInterval(() => loadHealth().catch(() => {}), 5000);
}

document.addEventListener("DOMContentLoaded", start);
