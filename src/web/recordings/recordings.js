// The supervisors' recordings page: search, play (the browser seeks with
// range requests), download, hold, score on a QA form, and the agent's
// appeal. What a user sees is decided by the server; this page only shows it.
"use strict";

const T = {
  zh: {
    title: "通话录音", desk: "坐席桌面", from: "开始日期", to: "结束日期", line: "线路", agent: "坐席", number: "号码", customer: "客户",
    outcome: "结果", search: "查询", started: "时间", duration: "时长", score: "质检分", empty: "没有符合条件的录音",
    recording: "录音", download: "下载", held: "质检保留（不按期清理）", play: "播放", comment: "评语", save_score: "提交评分",
    appeal: "申诉", appeal_note: "申诉理由", send_appeal: "提交申诉", pass: "合格", fail: "不合格", total: "总分",
    by: "评分人", any: "全部", forbidden: "营销人员不能查看录音",
    outcomes: { answered: "已接", missed: "未接", abandoned: "放弃", outbound: "呼出", unknown: "未知" },
    states: { recording: "录音中", done: "完成", repaired: "已修复", failed: "失败" },
  },
  en: {
    title: "Call recordings", desk: "Agent desk", from: "From", to: "To", line: "Line", agent: "Agent", number: "Number", customer: "Customer",
    outcome: "Outcome", search: "Search", started: "Started", duration: "Length", score: "QA score", empty: "No recordings match",
    recording: "Recording", download: "Download", held: "Held for QA (kept past retention)", play: "Play", comment: "Comment", save_score: "Save score",
    appeal: "Appeal", appeal_note: "Why the score is wrong", send_appeal: "Send appeal", pass: "pass", fail: "fail", total: "Total",
    by: "by", any: "any", forbidden: "Marketers cannot see recordings",
    outcomes: { answered: "answered", missed: "missed", abandoned: "abandoned", outbound: "outbound", unknown: "unknown" },
    states: { recording: "recording", done: "done", repaired: "repaired", failed: "failed" },
  },
};
let current = null;

function applyLang() {
  translatePage();
  const sel = $("q-outcome"), was = sel.value;
  sel.innerHTML = "";
  sel.append(new Option(t("any"), ""));
  for (const [k, v] of Object.entries(t("outcomes"))) sel.append(new Option(v, k));
  sel.value = was;
}

const fmtTime = (ms) => new Date(ms).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB");
const fmtLen = (ms) => { const s = Math.round(ms / 1000); return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`; };

async function boot() {
  applyLang();
  try {
    const me = await api("GET", "/api/me");
    if (me.role === "marketer") {
      $("login").hidden = false;
      $("login-error").textContent = t("forbidden");
      return;
    }
    showWho(me);
    $("login").hidden = true; $("recs").hidden = false; $("logout").hidden = false;
    search();
    // The call history links here as /recordings#rec=ID.
    const linked = location.hash.match(/rec=(\d+)/);
    if (linked) open(Number(linked[1]), false);
  } catch (e) {
    $("login").hidden = false; $("recs").hidden = true;
  }
}

async function search() {
  $("search-error").textContent = "";
  const q = new URLSearchParams();
  const day = (id, end) => { const v = $(id).value; if (!v) return null; const d = new Date(v + "T00:00:00"); if (end) d.setDate(d.getDate() + 1); return d.getTime(); };
  const from = day("q-from", false), to = day("q-to", true);
  if (from != null) q.set("from", from);
  if (to != null) q.set("to", to);
  for (const k of ["line", "agent", "number", "customer", "outcome"]) { const v = $("q-" + k).value.trim(); if (v) q.set(k, v); }
  try {
    const r = await api("GET", "/api/recordings?" + q);
    const rows = $("rows");
    rows.innerHTML = "";
    for (const rec of r.recordings) {
      const tr = document.createElement("tr");
      tr.dataset.id = rec.id;
      const score = rec.score == null ? "" : `${rec.score} ${rec.passed ? "✓" : "✗"}`;
      [fmtTime(rec.started_at), rec.line, rec.agent || "", rec.number || "", rec.customer || "",
       t("outcomes")[rec.outcome] || rec.outcome || "", fmtLen(rec.duration_ms), score].forEach((v) => {
        const td = document.createElement("td"); td.textContent = v; tr.append(td);
      });
      const td = document.createElement("td");
      const b = document.createElement("button");
      b.textContent = t("play"); b.className = "play"; b.onclick = () => open(rec.id, true);
      td.append(b); tr.append(td);
      rows.append(tr);
    }
    $("empty").hidden = r.recordings.length > 0;
  } catch (e) { $("search-error").textContent = e.message; }
}

async function open(id, play) {
  $("detail-error").textContent = "";
  document.querySelectorAll("#rows tr").forEach((tr) => tr.classList.toggle("chosen", tr.dataset.id == id));
  const d = await api("GET", `/api/recordings/${id}`);
  current = d;
  const rec = d.recording;
  $("d-title").textContent = `#${rec.id} · ${rec.line} · ${fmtTime(rec.started_at)}`;
  $("d-state").textContent = (t("states")[rec.state] || rec.state) + (rec.error ? ` — ${rec.error}` : "");
  $("d-download").href = `/api/recordings/${id}/audio?download=true`;
  $("d-held").checked = rec.held;
  $("d-held").disabled = !d.can_score;
  const player = $("player");
  player.src = `/api/recordings/${id}/audio`;
  $("detail").hidden = false;
  renderScores(d);
  if (play) player.play().catch((e) => { $("detail-error").textContent = e.message; });
}

function renderScores(d) {
  const box = $("scores");
  box.innerHTML = "";
  const form = d.forms[0];
  for (const s of d.scores) {
    const p = document.createElement("div");
    p.className = "score";
    const verdict = document.createElement("strong");
    verdict.className = s.passed ? "pass" : "fail";
    verdict.textContent = `${t("total")} ${s.total} · ${s.passed ? t("pass") : t("fail")}`;
    p.append(verdict, ` ${t("by")} ${s.scorer || "?"} · ${fmtTime(s.created_at)}`);
    if (s.comment) { const c = document.createElement("div"); c.textContent = s.comment; p.append(c); }
    if (s.appeal_note) {
      const a = document.createElement("div"); a.className = "muted";
      a.textContent = `${t("appeal")} (${s.appeal_by}): ${s.appeal_note}`; p.append(a);
    } else if (d.can_appeal) {
      const input = document.createElement("input"); input.placeholder = t("appeal_note"); input.className = "appeal-note";
      const b = document.createElement("button"); b.textContent = t("send_appeal");
      b.onclick = async () => {
        try { await api("POST", `/api/recordings/${d.recording.id}/scores/${s.id}/appeal`, { note: input.value }); open(d.recording.id, false); }
        catch (e) { $("detail-error").textContent = e.message; }
      };
      p.append(" ", input, " ", b);
    }
    box.append(p);
  }
  const f = $("score-form");
  f.innerHTML = "";
  f.hidden = !(d.can_score && form);
  if (f.hidden) return;
  const h = document.createElement("h3"); h.textContent = form.title; h.style.gridColumn = "1 / -1"; f.append(h);
  for (const item of form.items) {
    const label = document.createElement("label"); label.textContent = lang === "zh" ? item.label : (item.label_en || item.label);
    const input = document.createElement("input"); input.type = "number"; input.min = 0; input.max = item.points; input.value = item.points;
    input.dataset.key = item.key; input.required = true;
    const max = document.createElement("span"); max.className = "muted"; max.textContent = `/ ${item.points}`;
    f.append(label, input, max);
  }
  const comment = document.createElement("textarea"); comment.id = "score-comment"; comment.placeholder = t("comment"); comment.style.gridColumn = "1 / -1";
  const b = document.createElement("button"); b.type = "submit"; b.textContent = t("save_score"); b.style.gridColumn = "1 / -1";
  f.append(comment, b);
  f.onsubmit = async (ev) => {
    ev.preventDefault();
    const items = {};
    f.querySelectorAll("input[data-key]").forEach((i) => { items[i.dataset.key] = Number(i.value); });
    try {
      await api("POST", `/api/recordings/${d.recording.id}/scores`, { form_id: form.id, items, comment: comment.value });
      await open(d.recording.id, false);
      search();
    } catch (e) { $("detail-error").textContent = e.message; }
  };
}

$("d-held").onchange = async () => {
  try { await api("PUT", `/api/recordings/${current.recording.id}/hold`, { held: $("d-held").checked }); }
  catch (e) { $("detail-error").textContent = e.message; }
};
$("search").onsubmit = (ev) => { ev.preventDefault(); search(); };
wirePage(T, boot, applyLang);
boot();
