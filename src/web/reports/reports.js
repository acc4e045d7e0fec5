// The statistics page: a report's rows and totals as a table, its charts
// (SVG drawn by the server) and the formula of every figure.
"use strict";

const T = {
  zh: {
    title: "统计报表", history: "话单", wallboard: "监控大屏", recordings: "录音", group: "报表", period: "时段", from: "开始日期", to: "结束日期",
    sl: "服务水平 T(秒)", show: "查询", formulas: "计算公式", forbidden: "统计报表仅限班组长、质检和管理员",
    groups: { calls: "呼叫中心", agents: "坐席", teams: "班组", lines: "线路" },
    periods: { "15m": "15 分钟", "30m": "30 分钟", "60m": "1 小时", day: "天", week: "周", month: "月", total: "合计" },
  },
  en: {
    title: "Statistics", history: "Call history", wallboard: "Wallboard", recordings: "Recordings", group: "Report", period: "Interval", from: "From", to: "To",
    sl: "Service level T (s)", show: "Show", formulas: "Formulas", forbidden: "Statistics are for team leads, QA and admins",
    groups: { calls: "Whole center", agents: "Agents", teams: "Teams", lines: "Lines" },
    periods: { "15m": "15 min", "30m": "30 min", "60m": "1 hour", day: "day", week: "week", month: "month", total: "total" },
  },
};
let last = null;

function fill(sel, items, value) {
  const was = sel.value || value;
  sel.innerHTML = "";
  for (const [k, v] of Object.entries(items)) sel.append(new Option(v, k));
  sel.value = was;
}

function applyLang() {
  translatePage();
  fill($("q-group"), t("groups"), "agents");
  fill($("q-period"), t("periods"), "60m");
  if (last) render(last);
}

const day = (v, end) => { const d = new Date(v + "T00:00:00"); if (end) d.setDate(d.getDate() + 1); return d.getTime(); };
const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;

async function boot() {
  applyLang();
  try {
    const me = await api("GET", "/api/me");
    if (!["team_lead", "qa", "admin"].includes(me.role)) {
      $("login").hidden = false; $("login-error").textContent = t("forbidden"); return;
    }
    showWho(me);
    $("login").hidden = true; $("stats").hidden = false; $("logout").hidden = false;
    const params = new URLSearchParams(location.search);
    const today = new Date();
    $("q-from").value = params.get("from") || iso(today);
    $("q-to").value = params.get("to") || iso(today);
    if (params.get("group")) $("q-group").value = params.get("group");
    if (params.get("period")) $("q-period").value = params.get("period");
    show();
  } catch (e) {
    $("login").hidden = false; $("stats").hidden = true;
  }
}

function query() {
  const q = new URLSearchParams({ from: day($("q-from").value, false), to: day($("q-to").value, true), period: $("q-period").value });
  if ($("q-sl").value) q.set("sl", $("q-sl").value);
  return q;
}

async function show() {
  $("error").textContent = "";
  const group = $("q-group").value, q = query();
  try {
    const report = await api("GET", `/api/reports/${group}?${q}`);
    last = report;
    render(report);
    for (const chart of ["volume", "totals"]) {
      const r = await fetch(`/api/reports/${group}/chart.svg?${q}&chart=${chart}`, { credentials: "same-origin" });
      $("chart-" + chart).innerHTML = r.ok ? await r.text() : "";
    }
    document.body.dataset.loaded = String(Date.now());
  } catch (e) { $("error").textContent = e.message; }
}

const COLS = [
  ["offered", "呼入", "Offered"], ["answered", "接通", "Answered"], ["missed", "未接", "Missed"],
  ["abandoned", "放弃", "Abandoned"], ["unknown", "未知", "Unknown"], ["outbound", "呼出", "Outbound"],
  ["asa_s", "平均应答(秒)", "ASA (s)"], ["aht_s", "平均处理(秒)", "AHT (s)"], ["service_level", "服务水平%", "Service level %"],
  ["abandon_rate", "放弃率%", "Abandoned %"], ["work_orders", "工单", "Work orders"],
];
const STATES = [["ready", "就绪", "Ready"], ["not_ready", "未就绪", "Not ready"], ["on_call", "通话", "On call"], ["after_call_work", "话后", "Wrap-up"]];

function fmtStart(report, ms) {
  const d = new Date(ms), p = report.period;
  if (p === "month") return iso(d).slice(0, 7);
  if (["day", "week", "total"].includes(p)) return iso(d);
  return `${iso(d)} ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

function render(report) {
  const zh = lang === "zh";
  const withStates = report.group === "agents" || report.group === "teams";
  const head = [zh ? "时段" : "Interval", t("groups")[report.group], ...COLS.map((c) => (zh ? c[1] : c[2]))];
  if (withStates) head.push(...STATES.map((s) => (zh ? s[1] : s[2]) + (zh ? "(分)" : " (min)")));
  $("head").innerHTML = "";
  const htr = document.createElement("tr");
  for (const h of head) { const th = document.createElement("th"); th.textContent = h; htr.append(th); }
  $("head").append(htr);
  const rows = $("rows");
  rows.innerHTML = "";
  const line = (r, total) => {
    const tr = document.createElement("tr");
    if (total) tr.className = "total";
    tr.dataset.key = r.key;
    const cells = [total ? (zh ? "合计" : "Total") : fmtStart(report, r.start), r.key];
    for (const [k] of COLS) { const v = r[k]; cells.push(v == null ? "–" : typeof v === "number" && !Number.isInteger(v) ? v.toFixed(1) : v); }
    if (withStates) for (const [s] of STATES) cells.push(((r.state_ms[s] || 0) / 60000).toFixed(1));
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    rows.append(tr);
  };
  report.rows.forEach((r) => line(r, false));
  report.totals.forEach((r) => line(r, true));
  const list = $("formula-list");
  list.innerHTML = "";
  for (const f of report.formulas) { const li = document.createElement("li"); li.textContent = zh ? f.zh : f.en; list.append(li); }
}

$("query").onsubmit = (ev) => { ev.preventDefault(); show(); };
wirePage(T, boot, applyLang);
boot();
