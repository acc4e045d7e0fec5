// The marketers' page: create a campaign, preview it, start it, and follow
// every campaign live over /ws/sms. Plain script, no build step.
"use strict";

const T = {
  zh: {
    title: "短信群发", desk: "坐席桌面", new: "新建群发", name: "名称", recipients: "接收人", or: "或上传",
    template: "短信模板", filter: "筛选", suffix: "退订提示", window: "发送时段", start_at: "定时开始", preview: "预览",
    number: "号码", text: "内容", encoding: "编码", parts: "条数", cost: "费用", start: "开始发送",
    close: "关闭", failures: "失败明细", reason: "原因", campaigns: "群发任务", state: "状态", progress: "进度", counts: "明细", rate: "速度",
    pause: "暂停", resume: "继续", cancel: "取消", all: "全部客户", per_min: "条/分", eta: "剩余",
    skipped: "跳过", live: "实时", offline: "已断开", forbidden: "只有市场人员和管理员可以群发短信",
    summary: (c) => `${c.recipients} 位接收人（无效 ${c.invalid}，重复 ${c.duplicate}），共 ${c.parts} 条，预计 ¥${c.cost.toFixed(2)}`,
    states: { draft: "草稿", scheduled: "待开始", running: "发送中", waiting: "等待时段", paused: "已暂停", cancelled: "已取消", done: "已完成",
              queued: "排队", sending: "发送中", sent: "已发送", delivered: "已送达", failed: "失败", unknown: "未知" },
  },
  en: {
    title: "SMS campaigns", desk: "Agent desk", new: "New campaign", name: "Name", recipients: "Recipients", or: "or upload",
    template: "Template", filter: "Filter", suffix: "Opt-out text", window: "Sending window", start_at: "Start at", preview: "Preview",
    number: "Number", text: "Text", encoding: "Encoding", parts: "Parts", cost: "Cost", start: "Start",
    close: "Close", failures: "Failures", reason: "Reason", campaigns: "Campaigns", state: "State", progress: "Progress", counts: "Counts", rate: "Rate",
    pause: "Pause", resume: "Resume", cancel: "Cancel", all: "All customers", per_min: "/min", eta: "left",
    skipped: "skipped", live: "live", offline: "disconnected", forbidden: "Only marketers and admins send SMS campaigns",
    summary: (c) => `${c.recipients} recipients (${c.invalid} invalid, ${c.duplicate} duplicate), ${c.parts} parts, about ¥${c.cost.toFixed(2)}`,
    states: { draft: "draft", scheduled: "scheduled", running: "sending", waiting: "outside window", paused: "paused", cancelled: "cancelled", done: "done",
              queued: "queued", sending: "sending", sent: "sent", delivered: "delivered", failed: "failed", unknown: "unknown" },
  },
};
let draftId = null;
let socket = null;

function applyLang() {
  translatePage();
}

async function boot() {
  applyLang();
  try {
    const me = await api("GET", "/api/me");
    if (me.role !== "marketer" && me.role !== "admin") {
      $("login").hidden = false;
      $("login-error").textContent = t("forbidden");
      return;
    }
    showWho(me);
    $("login").hidden = true; $("sms").hidden = false; $("logout").hidden = false;
    const g = await api("GET", "/api/sms/groups");
    const sel = $("c-group");
    sel.innerHTML = "";
    sel.append(new Option("—", ""), new Option(t("all"), "*"));
    g.groups.forEach((x) => sel.append(new Option(`${x.name} (${x.customers})`, x.name)));
    connect();
  } catch (e) {
    $("login").hidden = false; $("sms").hidden = true;
  }
}

function connect() {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${proto}://${location.host}/ws/sms?csrf=${encodeURIComponent(csrfToken)}`);
  socket.onopen = () => { $("conn").textContent = t("live"); $("conn").classList.remove("down"); };
  socket.onclose = () => { $("conn").textContent = t("offline"); $("conn").classList.add("down"); setTimeout(connect, 2000); };
  socket.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "campaigns") render(msg.campaigns);
  };
}

function fmtEta(s) {
  if (s == null) return "";
  const m = Math.floor(s / 60), h = Math.floor(m / 60);
  return h > 0 ? `${h}h${m % 60}m` : m > 0 ? `${m}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}

function render(list) {
  const rows = $("rows");
  rows.innerHTML = "";
  for (const item of list) {
    const c = item.campaign, p = item.progress;
    const tr = document.createElement("tr");
    tr.dataset.id = c.id;
    tr.dataset.state = c.state;
    const counts = Object.entries(p.states).map(([k, v]) => `${t("states")[k] || k} ${v}`);
    const skipped = Object.entries(p.skipped).map(([k, v]) => `${k} ${v}`);
    if (skipped.length) counts.push(`${t("skipped")}: ${skipped.join(", ")}`);
    const cells = [
      c.id, c.name, t("states")[c.state] || c.state, "", counts.join(" · "),
      item.rate_per_minute ? `${item.rate_per_minute}${t("per_min")} ${item.eta_secs != null ? t("eta") + " " + fmtEta(item.eta_secs) : ""}` : "",
    ];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      if (i === 3) {
        const bar = document.createElement("progress");
        bar.max = Math.max(p.parts, 1); bar.value = item.settled;
        td.append(bar, ` ${item.settled}/${p.parts}`);
      } else td.textContent = v;
      tr.append(td);
    });
    const act = document.createElement("td");
    const button = (label, fn) => { const b = document.createElement("button"); b.textContent = t(label); b.dataset.action = label; b.onclick = fn; act.append(b, " "); };
    const control = (a) => async () => { try { await api("POST", `/api/sms/campaigns/${c.id}/${a}`); } catch (e) { alert(e.message); } };
    if (["scheduled", "running", "waiting"].includes(c.state)) button("pause", control("pause"));
    if (c.state === "paused") button("resume", control("resume"));
    if (!["done", "cancelled"].includes(c.state)) button("cancel", control("cancel"));
    if ((p.states.failed || 0) + (p.states.unknown || 0) > 0) button("failures", () => showFailures(c.id));
    for (const f of ["csv", "xlsx"]) {
      const a = document.createElement("a");
      a.href = `/api/sms/campaigns/${c.id}/export?format=${f}`; a.textContent = f.toUpperCase();
      act.append(a, " ");
    }
    tr.append(act);
    rows.append(tr);
  }
}

async function showFailures(id) {
  const f = await api("GET", `/api/sms/campaigns/${id}/failures`);
  $("failures-id").textContent = `#${id}`;
  const reasons = $("failure-reasons");
  reasons.innerHTML = "";
  for (const [reason, n] of f.reasons) {
    const li = document.createElement("li");
    li.textContent = `${n} × ${reason || "?"}`;
    reasons.append(li);
  }
  const tb = $("failure-rows");
  tb.innerHTML = "";
  for (const p of f.parts) {
    const tr = document.createElement("tr");
    [p.number, p.part, t("states")[p.state] || p.state, p.reason].forEach((v) => {
      const td = document.createElement("td"); td.textContent = v; tr.append(td);
    });
    tb.append(tr);
  }
  $("failures").hidden = false;
}

$("new").onsubmit = async (ev) => {
  ev.preventDefault();
  $("new-error").textContent = "";
  const body = { name: $("c-name").value, template: $("c-template").value };
  if ($("c-suffix").value) body.suffix = $("c-suffix").value;
  if ($("c-window").value) body.window = $("c-window").value;
  if ($("c-filter").value) body.filter = $("c-filter").value;
  if ($("c-start").value) body.start_at = new Date($("c-start").value).getTime();
  try {
    const file = $("c-file").files[0];
    if (file) {
      const up = await api("POST", "/api/sms/uploads", file, { "X-Filename": file.name });
      body.upload = up.upload;
    } else if ($("c-group").value === "*") body.all = true;
    else if ($("c-group").value) body.group = $("c-group").value;
    const r = await api("POST", "/api/sms/campaigns", body);
    draftId = r.campaign.id;
    $("draft-summary").textContent = t("summary")(r.campaign);
    const tb = $("draft-rows");
    tb.innerHTML = "";
    for (const p of r.preview) {
      const tr = document.createElement("tr");
      const vals = p.skip ? [p.number, `${t("skipped")}: ${p.skip}`, "", "", ""]
        : [p.number, p.text, p.estimate.encoding, p.estimate.parts, `¥${p.estimate.cost.toFixed(3)} ${p.estimate.carrier || ""}`];
      vals.forEach((v) => { const td = document.createElement("td"); td.textContent = v; tr.append(td); });
      tb.append(tr);
    }
    $("draft").hidden = false;
  } catch (e) { $("new-error").textContent = e.message; }
};

$("draft-start").onclick = async () => {
  try { await api("POST", `/api/sms/campaigns/${draftId}/start`); $("draft").hidden = true; }
  catch (e) { $("new-error").textContent = e.message; }
};
$("draft-drop").onclick = () => { $("draft").hidden = true; };

wirePage(T, boot, applyLang);
boot();
