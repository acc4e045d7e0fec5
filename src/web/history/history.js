// The call history (话单): search, page on with a cursor, links to the
// customer's calls, the work orders and the recording, and exports for
// those allowed. Scope and masking are the server's; this page shows.
"use strict";

const T = {
  zh: {
    title: "话单", desk: "坐席桌面", reports: "统计报表", recordings: "录音", from: "开始日期", to: "结束日期", line: "线路", agent: "坐席", team: "班组", number: "号码",
    customer_id: "客户编号", customer: "客户", direction: "方向", outcome: "结果", search: "查询", started: "时间", wait: "等待",
    talk: "通话", links: "关联", empty: "没有符合条件的通话", more: "下一页", export_csv: "导出 CSV", export_xlsx: "导出 Excel",
    recording: "录音", work_order: "工单", calls_of: "该客户的通话", any: "全部", forbidden: "营销人员不能查看话单",
    directions: { inbound: "呼入", outbound: "呼出" },
    outcomes: { answered: "已接", missed: "未接", abandoned: "放弃", outbound: "呼出", unknown: "未知" },
  },
  en: {
    title: "Call history", desk: "Agent desk", reports: "Statistics", recordings: "Recordings", from: "From", to: "To", line: "Line", agent: "Agent", team: "Team",
    number: "Number", customer_id: "Customer no.", customer: "Customer", direction: "Direction", outcome: "Outcome", search: "Search",
    started: "Started", wait: "Wait", talk: "Talk", links: "Links", empty: "No calls match", more: "Next page",
    export_csv: "Export CSV", export_xlsx: "Export Excel", recording: "recording", work_order: "work order", calls_of: "calls of this customer",
    any: "any", forbidden: "Marketers cannot see the call history",
    directions: { inbound: "inbound", outbound: "outbound" },
    outcomes: { answered: "answered", missed: "missed", abandoned: "abandoned", outbound: "outbound", unknown: "unknown" },
  },
};
let next = null;

function options(sel, items) {
  const was = sel.value;
  sel.innerHTML = "";
  sel.append(new Option(t("any"), ""));
  for (const [k, v] of Object.entries(items)) sel.append(new Option(v, k));
  sel.value = was;
}

function applyLang() {
  translatePage();
  options($("q-direction"), t("directions"));
  options($("q-outcome"), t("outcomes"));
}

const fmtTime = (ms) => new Date(ms).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB");
const secs = (ms) => (ms == null ? "" : `${Math.round(ms / 1000)}s`);

async function boot() {
  applyLang();
  try {
    const me = await api("GET", "/api/me");
    if (me.role === "marketer") { $("login").hidden = false; $("login-error").textContent = t("forbidden"); return; }
    showWho(me);
    $("login").hidden = true; $("hist").hidden = false; $("logout").hidden = false;
    const params = new URLSearchParams(location.search);
    for (const k of ["line", "agent", "team", "number", "customer_id", "outcome", "direction"]) if (params.get(k)) $("q-" + k).value = params.get(k);
    search(false);
  } catch (e) {
    $("login").hidden = false; $("hist").hidden = true;
  }
}

function filters() {
  const q = new URLSearchParams();
  const day = (id, end) => { const v = $(id).value; if (!v) return null; const d = new Date(v + "T00:00:00"); if (end) d.setDate(d.getDate() + 1); return d.getTime(); };
  const from = day("q-from", false), to = day("q-to", true);
  if (from != null) q.set("from", from);
  if (to != null) q.set("to", to);
  for (const k of ["line", "agent", "team", "number", "customer_id", "direction", "outcome"]) { const v = $("q-" + k).value.trim(); if (v) q.set(k, v); }
  return q;
}

function link(text, href, onclick) {
  const a = document.createElement("a");
  a.textContent = text;
  a.href = href;
  if (onclick) a.onclick = (ev) => { ev.preventDefault(); onclick(); };
  return a;
}

async function search(more) {
  $("error").textContent = "";
  const q = filters();
  if (more && next) q.set("after", next);
  try {
    const r = await api("GET", "/api/history?" + q);
    const rows = $("rows");
    if (!more) rows.innerHTML = "";
    for (const c of r.calls) {
      const tr = document.createElement("tr");
      tr.dataset.uid = c.call_uid;
      const cells = [fmtTime(c.started_at), c.line, t("directions")[c.direction] || c.direction,
        t("outcomes")[c.outcome] || c.outcome || "", c.number || "", null, c.agent || "",
        secs(c.answered_at == null ? null : c.answered_at - c.started_at),
        secs(c.answered_at == null || c.ended_at == null ? null : c.ended_at - c.answered_at), null];
      cells.forEach((v, i) => {
        const td = document.createElement("td");
        if (i === 5 && c.customer_id != null) {
          td.append(link(c.customer || `#${c.customer_id}`, `/history?customer_id=${c.customer_id}`, () => { $("q-customer_id").value = c.customer_id; search(false); }));
        } else if (i === 9) {
          if (c.recording_id != null) td.append(link(t("recording"), `/recordings#rec=${c.recording_id}`));
          if (c.work_order_id != null) { if (td.childNodes.length) td.append(" · "); td.append(link(`${t("work_order")} ×${c.work_orders}`, `/api/workorders?call_id=${encodeURIComponent(c.call_uid)}`)); }
        } else td.textContent = v ?? "";
        tr.append(td);
      });
      rows.append(tr);
    }
    next = r.next;
    $("more").hidden = !next;
    $("empty").hidden = rows.children.length > 0;
    $("exports").hidden = !r.can_export;
    const qs = filters();
    $("export-csv").href = "/api/history/export?" + qs + "&format=csv";
    $("export-xlsx").href = "/api/history/export?" + qs + "&format=xlsx";
    document.body.dataset.loaded = String(Date.now());
  } catch (e) { $("error").textContent = e.message; }
}

$("search").onsubmit = (ev) => { ev.preventDefault(); search(false); };
$("more").onclick = () => search(true);
wirePage(T, boot, applyLang);
boot();
