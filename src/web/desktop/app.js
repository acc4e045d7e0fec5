// The agent desktop: logs in, keeps one websocket to the pop hub (resuming
// after a drop), shows pops with their work-order form, and saves them.
"use strict";

const T = {
  "zh-CN": {
    login_title: "坐席登录", username: "用户名", password: "密码", login: "登录", logout: "退出",
    ready: "就绪", not_ready: "示忙", on_call: "通话中", after_call_work: "话后处理", offline: "离线",
    idle: "等待来电…", missed: "未接来电", callback: "回拨", connected: "已连接", reconnecting: "重连中…",
    line: "线路", number: "号码", private: "隐藏号码", unavailable: "号码不可用",
    match_none: "新客户", match_one: "客户", match_many: "多个客户匹配，请选择",
    choose: "选择", new_customer: "新建客户", name: "姓名", company: "公司", phone: "电话", create: "创建",
    recent_calls: "最近来电", open_orders: "未结工单", save: "保存工单", saved: "工单已保存",
    take: "接听", taken_by: "已由 {by} 接听", answered: "已接通", ended: "通话结束",
    bad_login: "用户名或密码错误", login_throttled: "登录失败次数过多，请稍后再试", login_locked: "该账号因多次登录失败已临时锁定，请稍后再试或联系管理员", reasons: ["休息", "开会", "培训", "其他"], lang: "English",
  },
  en: {
    login_title: "Agent login", username: "Username", password: "Password", login: "Log in", logout: "Log out",
    ready: "Ready", not_ready: "Not ready", on_call: "On call", after_call_work: "After-call work", offline: "Offline",
    idle: "Waiting for calls…", missed: "Missed calls", callback: "Call back", connected: "connected", reconnecting: "reconnecting…",
    line: "Line", number: "Number", private: "Private number", unavailable: "Number unavailable",
    match_none: "New customer", match_one: "Customer", match_many: "Several customers match: choose one",
    choose: "Choose", new_customer: "New customer", name: "Name", company: "Company", phone: "Phone", create: "Create",
    recent_calls: "Recent calls", open_orders: "Open work orders", save: "Save work order", saved: "Work order saved",
    take: "Take call", taken_by: "Taken by {by}", answered: "Answered", ended: "Call ended",
    bad_login: "Wrong username or password", login_throttled: "Too many failed logins: try again shortly", login_locked: "This account is locked for a while after repeated failed logins: try later or ask an admin", reasons: ["Break", "Meeting", "Training", "Other"], lang: "中文",
  },
};
// One key for every page: "zh-CN" or "en" (older pages stored "zh").
let lang = (localStorage.getItem("lang") || navigator.language).startsWith("zh") ? "zh-CN" : "en";
const t = (k, vars) => (T[lang][k] || k).replace(/\{(\w+)\}/g, (_, v) => (vars || {})[v] ?? "");
const $ = (id) => document.getElementById(id);
const el = (tag, attrs, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else if (v !== undefined && v !== null) e.setAttribute(k, v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) e.append(kid.nodeType ? kid : String(kid));
  return e;
};

const desk = { user: null, ws: null, sessionId: null, lastSeq: 0, heartbeat: 15, timer: null, pops: new Map(), pending: new Map(), state: null };

function applyLang() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((e) => (e.textContent = t(e.dataset.t)));
  $("lang").textContent = T[lang].lang;
  $("reason").replaceChildren(...T[lang].reasons.map((r) => el("option", { value: r }, r)));
  if (desk.state) $("state").textContent = t(desk.state.state);
  for (const p of desk.pops.values()) render(p);
}

// The session's CSRF token, from the login or /api/me answer: sent back
// on every request that changes something.
let csrfToken = "";

async function api(path, options) {
  const headers = { "content-type": "application/json" };
  if (options && options.method && options.method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const r = await fetch(path, { credentials: "same-origin", headers, ...options });
  const body = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (body && typeof body.csrf_token === "string") csrfToken = body.csrf_token;
  if (!r.ok) throw Object.assign(new Error(body.error?.message || r.statusText), { status: r.status, body });
  return body;
}

async function start() {
  applyLang();
  try {
    desk.user = await api("/api/me");
    enterDesk();
  } catch (_) {
    $("login").hidden = false;
    $("username").focus();
  }
}

$("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    const r = await api("/api/login", { method: "POST", body: JSON.stringify({ username: $("username").value, password: $("password").value }) });
    desk.user = r.user;
    $("login").hidden = true;
    enterDesk();
  } catch (e) {
    const code = e.body?.error?.code;
    $("login-error").textContent = t(code === "login_throttled" || code === "login_locked" ? code : "bad_login");
  }
});
$("logout").addEventListener("click", async () => { await api("/api/logout", { method: "POST" }).catch(() => {}); location.reload(); });
$("lang").addEventListener("click", () => { lang = lang === "en" ? "zh-CN" : "en"; localStorage.setItem("lang", lang); applyLang(); });
$("ready").addEventListener("click", () => command("agent.state", { state: "ready" }));
$("notready").addEventListener("click", () => command("agent.state", { state: "not_ready", reason: $("reason").value }));

function enterDesk() {
  $("who").textContent = desk.user.display_name || desk.user.username;
  $("desk").hidden = false; $("logout").hidden = false; $("state-box").hidden = false;
  connect();
  loadMissed();
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws?csrf=" + encodeURIComponent(csrfToken));
  desk.ws = ws;
  ws.onopen = () => { $("conn").textContent = t("connected"); $("conn").className = "conn"; };
  ws.onmessage = (ev) => receive(JSON.parse(ev.data));
  ws.onclose = (ev) => {
    clearInterval(desk.timer);
    // 4003: this session was ended elsewhere (password changed, logout).
    if (ev.code === 4003) { location.reload(); return; }
    $("conn").textContent = t("reconnecting"); $("conn").className = "conn down";
    setTimeout(connect, 1000);
  };
}

function send(msg) { if (desk.ws && desk.ws.readyState === 1) desk.ws.send(JSON.stringify(msg)); }

// A command's id is its idempotency key: a work order keeps one key per
// pop, so saving twice (or retrying after a drop) stores it once.
function command(type, data, id = newKey()) {
  return new Promise((resolve, reject) => { desk.pending.set(id, { resolve, reject }); send({ type, id, data }); });
}

function receive(m) {
  if (m.type === "heartbeat") {
    // A heartbeat carries the latest seq: a gap means we missed something.
    if (m.seq > desk.lastSeq) desk.ws.close();
    return;
  }
  if (m.type === "hello") {
    const old = desk.sessionId;
    desk.heartbeat = m.data.heartbeat_secs;
    clearInterval(desk.timer);
    desk.timer = setInterval(() => send({ type: "heartbeat" }), desk.heartbeat * 1000);
    if (old) { send({ type: "resume", data: { session_id: old, last_seq: desk.lastSeq } }); return; }
    desk.sessionId = m.data.session_id; desk.lastSeq = m.seq;
    return;
  }
  if (m.seq <= desk.lastSeq && m.type !== "snapshot" && m.type !== "resumed") return;
  desk.lastSeq = m.seq;
  const d = m.data;
  switch (m.type) {
    case "resumed": desk.sessionId = d.session_id; break;
    case "snapshot":
      desk.sessionId = d.session_id;
      setState(d.agent);
      for (const p of d.pops) showPop(p);
      break;
    case "agent.state": if (d.user_id === desk.user.id) setState(d); break;
    case "call.ringing": showPop(d); send({ type: "ack", data: { seq: m.seq } }); break;
    case "call.caller_name": update(d.call_id, (p) => (p.caller_name = d.name)); break;
    case "call.answered": update(d.call_id, (p) => (p.status = t("answered"))); break;
    case "call.closed": update(d.call_id, (p) => { p.closed = true; p.status = t("taken_by", { by: d.by }); }); break;
    case "call.ended": update(d.call_id, (p) => (p.status = t("ended"))); loadMissed(); break;
    case "result": settle(d.id, true, d.result); break;
    case "error": if (!settle(d.id, false, d)) notice(d.message); break;
    case "alarm": notice(`⚠ ${d.source}: ${d.message}`); break;
    case "device.state": if (d.state && d.state.state === "down") notice(`⚠ ${d.device}: ${d.state.reason || "down"}`); break;
  }
}

function settle(id, ok, value) {
  const p = id && desk.pending.get(id);
  if (!p) return false;
  desk.pending.delete(id);
  ok ? p.resolve(value) : p.reject(value);
  return true;
}

function setState(a) { desk.state = a; $("state").textContent = t(a.state) + (a.reason ? " · " + a.reason : ""); }
function notice(text) { $("notice").textContent = text; }

// A pop is keyed by its call: a repeated call.ringing (a snapshot, a
// replay after a reconnect storm) redraws the same pop, never a second one,
// and keeps whatever the agent has typed into it.
function showPop(data) {
  const existing = desk.pops.get(data.call_id);
  const pop = { ...data, key: existing?.key || newKey(), status: existing?.status || "", values: existing?.values, node: existing?.node || popNode(data.call_id) };
  desk.pops.set(data.call_id, pop);
  $("idle").hidden = true;
  if (!pop.node.parentNode) $("pops").prepend(pop.node);
  render(pop);
}

// What the agent typed into a pop's forms, by form and field, survives
// every redraw (call answered, caller name, language switch).
function popNode(callId) {
  const node = el("div", { class: "pop", id: "pop-" + callId });
  node.typed = {};
  const keep = (ev) => { const f = ev.target.form; if (f && ev.target.name) node.typed[`${f.className}:${ev.target.name}`] = ev.target.value; };
  node.addEventListener("input", keep);
  node.addEventListener("change", keep);
  return node;
}

function restoreTyped(node) {
  for (const [key, value] of Object.entries(node.typed)) {
    const [form, name] = key.split(":");
    const field = node.querySelector(`form.${form} [name="${name}"]`);
    if (field) field.value = value;
  }
}

function update(callId, f) { const p = desk.pops.get(callId); if (p) { f(p); render(p); } }
function newKey() { return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now(); }

function numberText(p) {
  if (p.presentation !== "available") return t(p.presentation);
  return p.number || "—";
}

function render(p) {
  const kids = [el("h3", {}, `${t("line")} ${p.line} · ${numberText(p)}` + (p.caller_name ? ` · ${p.caller_name}` : ""))];
  if (p.status) kids.push(el("p", { class: "notice" }, p.status));
  if (p.team && !p.closed) kids.push(el("button", { class: "take", onclick: () => command("call.claim", { call_id: p.call_id }).then(() => update(p.call_id, (q) => (q.status = t("answered")))).catch((e) => notice(e.message)) }, t("take")));
  p.node.className = "pop" + (p.closed ? " closed" : "");
  if (p.match === "many") {
    kids.push(el("p", {}, t("match_many")));
    kids.push(el("ul", { class: "chooser" }, p.customers.map((c) => el("li", {}, `${c.name} ${c.company || ""} `,
      el("button", { class: "choose", "data-id": c.id, onclick: () => select(p, c.id) }, t("choose"))))));
  } else if (p.match === "none") {
    kids.push(newCustomerForm(p));
  } else {
    const c = p.customers[0];
    kids.push(el("p", { class: "customer" }, `${t("match_one")}: `, el("strong", {}, c.name), c.company ? ` · ${c.company}` : "", " · ", c.phones.map((x) => x.raw).join(", ")));
    if (p.recent_calls.length) kids.push(el("h4", {}, t("recent_calls")), table(p.recent_calls.map((x) => [new Date(x.started_at).toLocaleString(lang), x.line, x.outcome || ""])));
    if (p.open_work_orders.length) kids.push(el("h4", {}, t("open_orders")), table(p.open_work_orders.map((w) => [new Date(w.created_at).toLocaleString(lang), w.form, Object.values(w.fields).slice(0, 3).join(" · ")])));
  }
  if (p.form && p.match !== "many") kids.push(workOrderForm(p));
  p.node.replaceChildren(...kids);
  restoreTyped(p.node);
}

function table(rows) { return el("table", {}, rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c))))); }

function select(p, customerId) {
  return command("customer.select", { call_id: p.call_id, customer_id: customerId })
    .then((r) => showPop({ ...r.pop, key: p.key }))
    .catch((e) => notice(e.message));
}

function newCustomerForm(p) {
  const name = el("input", { name: "name", required: "" });
  const company = el("input", { name: "company" });
  const phone = el("input", { name: "phone", value: p.number || "" });
  const err = el("p", { class: "error" });
  const form = el("form", { class: "new-customer", onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("/api/customers", { method: "POST", body: JSON.stringify({ name: name.value, company: company.value, phones: phone.value ? [phone.value] : [] }) });
      for (const k of Object.keys(p.node.typed)) if (k.startsWith("new-customer:")) delete p.node.typed[k];
      await select(p, r.customer.id);
    } catch (e) { err.textContent = e.message; }
  } },
  el("h4", {}, t("new_customer")),
  el("label", { class: "field" }, t("name"), name), el("label", { class: "field" }, t("company"), company), el("label", { class: "field" }, t("phone"), phone),
  el("button", { type: "submit" }, t("create")), err);
  return form;
}

function workOrderForm(p) {
  const inputs = {};
  const rows = p.form.fields.map((f) => {
    const label = lang === "en" ? f.label_en : f.label_zh;
    const value = (p.values && p.values[f.key]) ?? p.prefill[f.key] ?? "";
    let input;
    if (f.type === "textarea") input = el("textarea", { name: f.key, rows: 3 }, value);
    else if (f.type === "enum") input = el("select", { name: f.key }, el("option", { value: "" }, ""), f.options.map((o) => el("option", { value: o.value, ...(o.value === value ? { selected: "" } : {}) }, lang === "en" ? o.label_en : o.label_zh)));
    else input = el("input", { name: f.key, value, type: f.type === "number" ? "number" : f.type === "date" ? "date" : f.type === "phone" ? "tel" : "text" });
    if (f.required) input.setAttribute("aria-required", "true");
    inputs[f.key] = input;
    const err = el("span", { class: "error", id: `err-${p.call_id}-${f.key}` });
    return el("label", { class: "field" }, label + (f.required ? " *" : ""), el("span", {}, input, err));
  });
  const status = el("p", { class: "notice" });
  return el("form", { class: "workorder", onsubmit: async (ev) => {
    ev.preventDefault();
    const fields = Object.fromEntries(Object.entries(inputs).map(([k, i]) => [k, i.value]));
    p.values = fields;
    p.node.querySelectorAll(".field .error").forEach((e) => (e.textContent = ""));
    try {
      const r = await command("workorder.save", { call_id: p.call_id, customer_id: p.customers.length === 1 ? p.customers[0].id : null, form: p.form.key, fields }, p.key);
      status.textContent = `${t("saved")} #${r.work_order_id}`;
    } catch (e) {
      for (const fe of e.fields || []) {
        const s = document.getElementById(`err-${p.call_id}-${fe.field}`);
        if (s) s.textContent = lang === "en" ? fe.message_en : fe.message_zh;
      }
      if (!e.fields) status.textContent = e.message;
    }
  } }, el("h4", {}, lang === "en" ? p.form.name_en : p.form.name_zh), rows, el("button", { type: "submit", class: "save" }, t("save")), status);
}

async function loadMissed() {
  try {
    const r = await api("/api/calls/missed");
    $("missed").replaceChildren(...r.calls.map((c) => el("li", {}, `${new Date(c.started_at).toLocaleTimeString(lang)} ${c.raw_number || t(c.presentation)} `,
      c.raw_number ? el("button", { onclick: () => command("call.dial", { number: c.raw_number }).catch((e) => notice(e.message)) }, t("callback")) : null)));
  } catch (_) { /* shown again on the next call */ }
}

start();
