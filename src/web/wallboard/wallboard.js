// The wallboard: one websocket; the first message is a whole picture of
// the center, later ones (wallboard.delta) what changed. Times in state
// tick here between messages.
"use strict";

const T = {
  zh: {
    title: "监控大屏", reports: "统计报表", history: "话单", today: "今日", ringing: "正在振铃", agents: "坐席", lines: "线路", devices: "设备", none: "无",
    live: "实时", reconnecting: "重新连接中…", forbidden: "监控大屏仅限班组长、质检和管理员",
    counters: { offered: "呼入", answered: "接通", missed: "未接", abandoned: "放弃", outbound: "呼出", abandon_rate: "放弃率" },
    states: { ready: "就绪", not_ready: "未就绪", on_call: "通话中", after_call_work: "话后处理", offline: "离线",
              idle: "空闲", ringing: "振铃", talking: "通话", up: "正常", down: "故障" },
  },
  en: {
    title: "Wallboard", reports: "Statistics", history: "Call history", today: "Today", ringing: "Ringing now", agents: "Agents", lines: "Lines", devices: "Devices",
    none: "none", live: "live", reconnecting: "reconnecting…", forbidden: "The wallboard is for team leads, QA and admins",
    counters: { offered: "Offered", answered: "Answered", missed: "Missed", abandoned: "Abandoned", outbound: "Outbound", abandon_rate: "Abandoned %" },
    states: { ready: "ready", not_ready: "not ready", on_call: "on call", after_call_work: "wrap-up", offline: "offline",
              idle: "idle", ringing: "ringing", talking: "talking", up: "up", down: "down" },
  },
};
let picture = null, skew = 0, updates = 0;

function applyLang() {
  translatePage();
  if (picture) draw();
}

const since = (ms) => {
  const s = Math.max(0, Math.floor((Date.now() - skew - ms) / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(r).padStart(2, "0")}`;
};

function rows(id, items, cells) {
  const body = $(id);
  body.innerHTML = "";
  if (!items.length) { const tr = body.insertRow(); tr.insertCell().textContent = t("none"); return; }
  for (const item of items) {
    const tr = body.insertRow();
    for (const [text, cls] of cells(item)) { const td = tr.insertCell(); td.textContent = text; if (cls) td.className = cls; }
  }
}

function draw() {
  const p = picture, st = t("states");
  const c = $("counters");
  c.innerHTML = "";
  const counts = { ...p.today, abandon_rate: p.abandon_rate == null ? "–" : p.abandon_rate.toFixed(1) + "%" };
  for (const [k, label] of Object.entries(t("counters"))) {
    const d = document.createElement("div");
    d.className = "counter"; d.id = "count-" + k;
    const b = document.createElement("b"); b.textContent = counts[k];
    d.append(b, label);
    c.append(d);
  }
  rows("ringing", Object.values(p.ringing).sort((a, b) => a.since - b.since), (r) => [[r.line], [r.number || ""], [since(r.since)]]);
  const agents = Object.values(p.agents).sort((a, b) => a.username.localeCompare(b.username));
  rows("agents", agents, (a) => [[a.display_name || a.username], [st[a.state] || a.state, "st-" + a.state], [a.reason || ""], [since(a.since), "in-state"]]);
  rows("lines", Object.entries(p.lines), ([name, l]) => [[name], [st[l.state] || l.state, "st-" + l.state], [l.number || ""], [since(l.since)]]);
  rows("devices", Object.entries(p.devices), ([name, d]) => [[name], [d.up ? st.up : st.down, d.up ? "st-up" : "st-down"], [d.reason || ""], [since(d.since)]]);
}

// Replaced values, then changed entries of the keyed collections, then
// the keys removed from them.
function applyDelta(p, d) {
  Object.assign(p, d.replace);
  for (const [k, entries] of Object.entries(d.changed)) p[k] = { ...p[k], ...entries };
  for (const [k, keys] of Object.entries(d.removed)) for (const key of keys) delete p[k][key];
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/wallboard?csrf=${encodeURIComponent(csrfToken)}`);
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "wallboard") picture = msg.data;
    else if (msg.type === "wallboard.delta" && picture) applyDelta(picture, msg.data);
    else return;
    skew = Date.now() - picture.now;
    updates += 1;
    document.body.dataset.updates = String(updates);
    $("status").textContent = t("live");
    draw();
  };
  ws.onclose = () => { $("status").textContent = t("reconnecting"); setTimeout(connect, 2000); };
}

async function boot() {
  applyLang();
  try {
    const me = await api("GET", "/api/me");
    if (!["team_lead", "qa", "admin"].includes(me.role)) { $("login").hidden = false; $("login-error").textContent = t("forbidden"); return; }
    showWho(me);
    $("login").hidden = true; $("board").hidden = false; $("logout").hidden = false;
    connect();
    setInterval(() => { if (picture) draw(); }, 1000);
  } catch (e) {
    $("login").hidden = false; $("board").hidden = true;
  }
}

wirePage(T, boot, applyLang);
boot();
