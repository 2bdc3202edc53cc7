// Supervisors' dashboard: live board over server-sent events, 三率 charts in inline SVG.
"use strict";
(function () {
  const params = new URLSearchParams(location.search);
  const lang = params.get("lang") === "en" ? "en" : "zh";
  const T = {
    zh: {},
    en: {
      title: "Whistle · Supervisors' dashboard", subtitle: "Departments reporting in, SLA breaches, and rankings, live",
      offline: "offline", live: "live", logout: "Log out", login: "Enter your supervisor token", open: "Open",
      login_hint: "Tokens come from `whistle users add`; kept in this tab only.",
      k_breaches: "Open breaches", k_escalated: "Escalated", k_disputes: "Disputes to rule",
      response_rate: "Response", resolution_rate: "Resolution", satisfaction_rate: "Satisfaction",
      average_score: "Avg. score (1–5)",
      breaches: "Breaches and escalations", breaches_hint: "new breaches appear within 2 s",
      case: "Case", clock: "Clock", department: "Department", community: "Community", due: "Due",
      late: "Late by", escalation: "Escalation", no_breaches: "No breaches: every department reported in time.",
      disputes: "Disputes awaiting a ruling", title_col: "Matter", reason: "Reason", raised: "Raised",
      no_disputes: "No dispute awaits a ruling.", rates: "Rates and rankings", by_department: "Departments",
      by_community: "Communities", by_street: "Streets", group: "Unit", score: "Score",
      dispatched: "Dispatched", breached: "Breached", trend: "Rates over time (daily)",
      footer: "Small matters stay in the compound, hard ones in the community · read models of the event log",
      bad_token: "The token was refused.", no_data: "No data yet", ruling: "Ruling",
      escalations: "Escalations", lead: "Lead department", when: "When",
      no_escalations: "No open case is escalated.",
      joint_actions: "Joint actions and reporting in", place: "Place", reporting: "Departments reporting in",
      assembly: "Assembly", no_joint_actions: "No joint action is scheduled on an open case.",
      assembled: "Assembled", waiting: "Waiting for ", reported: "reported in", not_reported: "not yet",
      calendar_banner: "Holiday calendar",
      uphold: "Uphold the routing", reassign_to: "Reassign to ", rule: "Rule", ruled: "Ruled; the board updates shortly",
    },
  };
  const ZH = {
    live: "实时", offline: "未连接", bad_token: "令牌无效或已被吊销。", no_data: "暂无数据",
    uphold: "维持原派单", reassign_to: "改派：", rule: "裁定", ruled: "已裁定，看板稍后更新",
    assembled: "已到齐", waiting: "待报到：", reported: "已报到", not_reported: "未报到",
  };
  const CLOCKS = { zh: { ack: "签收", contact: "联系", joint_action: "集结", resolve: "办结" },
    en: { ack: "Acknowledge", contact: "Contact", joint_action: "Joint action", resolve: "Resolve" } };
  const STEPS = { zh: { reminder: "催办", supervision: "督办", public_notice: "通报" },
    en: { reminder: "Reminder", supervision: "Supervision", public_notice: "Public notice" } };
  const TIERS = { zh: { community: "社区", street: "街道", district: "区" },
    en: { community: "community", street: "street", district: "district" } };
  const REASONS = { zh: { wrong_function: "非本部门职能", wrong_place: "不在辖区", unclear_ownership: "权属不清", other: "其他" },
    en: { wrong_function: "Not our function", wrong_place: "Not our area", unclear_ownership: "Unclear ownership", other: "Other" } };
  const t = (key) => (lang === "en" ? T.en[key] : ZH[key]) || key;
  const $ = (id) => document.getElementById(id);
  let names = { departments: {}, areas: {} };
  let token = sessionStorage.getItem("whistle.token") || "";
  let group = "department";
  let seen = new Set();

  function applyLang() {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    if (lang === "en") {
      document.querySelectorAll("[data-t]").forEach((el) => {
        const v = T.en[el.dataset.t]; if (v) el.textContent = v;
      });
      document.title = T.en.title;
    }
    const other = new URLSearchParams(location.search);
    if (lang === "en") other.delete("lang"); else other.set("lang", "en");
    $("lang").textContent = lang === "en" ? "中文" : "English";
    $("lang").href = "?" + other.toString() + location.hash;
  }
  const name = (kind, code) => {
    const n = code && names[kind][code];
    return n ? n[lang] : code || "–";
  };
  const pct = (x) => (x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%");
  const when = (iso) => iso ? new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "zh-CN",
    { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "–";
  function since(iso) {
    if (!iso) return "–";
    let s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); const m = Math.floor((s - h * 3600) / 60);
    if (lang === "en") return (d ? d + "d " : "") + (h ? h + "h " : "") + m + "m";
    return (d ? d + "天" : "") + (h ? h + "小时" : "") + m + "分";
  }
  function cell(tr, text, cls) {
    const td = document.createElement("td"); td.textContent = text;
    if (cls) td.className = cls; tr.appendChild(td); return td;
  }
  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + token, "Accept-Language": lang } });
    if (r.status === 401) { logout(true); throw new Error("401"); }
    if (!r.ok) throw new Error(path + " " + r.status);
    return r.json();
  }

  function renderBoard(board) {
    const tb = $("breaches"); tb.textContent = "";
    const now = new Set();
    for (const b of board.breaches) {
      const key = b.case_id + "/" + b.clock + "/" + b.department;
      now.add(key);
      const tr = document.createElement("tr"); tr.dataset.key = key;
      if (seen.size && !seen.has(key)) tr.className = "new";
      cell(tr, b.case_id);
      cell(tr, (CLOCKS[lang][b.clock] || b.clock));
      cell(tr, name("departments", b.department || b.lead_department));
      cell(tr, name("areas", b.community));
      cell(tr, when(b.due_at));
      cell(tr, since(b.due_at), "late");
      const td = cell(tr, "");
      if (b.escalation_step) {
        const tag = document.createElement("span"); tag.className = "tag " + b.escalation_step;
        tag.textContent = (TIERS[lang][b.escalation_tier] || "") + (lang === "en" ? " " : "") +
          (STEPS[lang][b.escalation_step] || b.escalation_step);
        td.appendChild(tag);
      }
      tb.appendChild(tr);
    }
    seen = now.size ? now : new Set(["∅"]);
    $("no-breaches").hidden = board.breaches.length > 0;
    $("k-breaches").textContent = board.breaches.length;
    const escalations = board.escalations || [];
    $("k-escalated").textContent = new Set(escalations.map((e) => e.case_id)).size;
    const eb = $("escalations"); eb.textContent = "";
    for (const e of escalations) {
      const tr = document.createElement("tr");
      cell(tr, e.case_id);
      const tag = document.createElement("span"); tag.className = "tag " + e.step;
      tag.textContent = (TIERS[lang][e.tier] || "") + (lang === "en" ? " " : "") + (STEPS[lang][e.step] || e.step);
      cell(tr, "").appendChild(tag);
      cell(tr, name("areas", e.community)); cell(tr, name("departments", e.lead_department));
      cell(tr, e.reason || "–"); cell(tr, when(e.escalated_at)); eb.appendChild(tr);
    }
    $("no-escalations").hidden = escalations.length > 0;
    renderJointActions(board.joint_actions || []);
    const db = $("disputes"); db.textContent = "";
    for (const d of board.disputes) {
      const tr = document.createElement("tr");
      cell(tr, d.case_id); cell(tr, name("areas", d.community)); cell(tr, name("departments", d.department));
      cell(tr, (REASONS[lang][d.reason] || d.reason) + (d.note ? "：" + d.note : ""));
      cell(tr, when(d.raised_at));
      tr.appendChild(rulingCell(d)); db.appendChild(tr);
    }
    $("no-disputes").hidden = board.disputes.length > 0;
    $("k-disputes").textContent = board.disputes.length;
  }

  // 集结: when and where, and which departments have reported in (报到).
  function renderJointActions(actions) {
    const jb = $("joint-actions"); jb.textContent = "";
    for (const ja of actions) {
      const tr = document.createElement("tr");
      cell(tr, ja.case_id + " " + ja.action_id); cell(tr, name("areas", ja.community));
      cell(tr, when(ja.at)); cell(tr, ja.place || "–");
      const who = cell(tr, "");
      const missing = [];
      for (const d of ja.departments || []) {
        const tag = document.createElement("span");
        tag.className = "tag " + (d.reported_in_at ? "reported" : "waiting");
        tag.textContent = name("departments", d.department) + " " +
          (d.reported_in_at ? t("reported") + " " + when(d.reported_in_at) : t("not_reported"));
        who.appendChild(tag);
        if (!d.reported_in_at) missing.push(name("departments", d.department));
      }
      cell(tr, ja.assembled_at ? t("assembled") : t("waiting") + missing.join("、"),
        ja.assembled_at ? "" : "late");
      jb.appendChild(tr);
    }
    $("no-joint-actions").hidden = actions.length > 0;
  }

  // 裁定: uphold the routing, or reassign the case to another department.
  const ruling = new Map();  // dispute key → the supervisor's pending choice, kept across renders
  function rulingCell(d) {
    const key = d.case_id + "/" + d.seq;
    const td = document.createElement("td"); td.className = "ruling";
    const pick = document.createElement("select");
    const keep = document.createElement("option"); keep.value = ""; keep.textContent = t("uphold");
    pick.appendChild(keep);
    for (const code of Object.keys(names.departments)) {
      if (code === d.department) continue;
      const o = document.createElement("option"); o.value = code;
      o.textContent = t("reassign_to") + name("departments", code); pick.appendChild(o);
    }
    pick.value = ruling.get(key) || "";
    pick.addEventListener("change", () => ruling.set(key, pick.value));
    const go = document.createElement("button"); go.type = "button"; go.textContent = t("rule");
    const out = document.createElement("span"); out.className = "outcome";
    go.addEventListener("click", async () => {
      go.disabled = true;
      const body = pick.value
        ? { department: d.department, outcome: "reassign", new_department: pick.value }
        : { department: d.department, outcome: "uphold" };
      try {
        const r = await fetch(`/v1/cases/${encodeURIComponent(d.case_id)}/dispute/ruling`, {
          method: "POST",
          headers: { Authorization: "Bearer " + token, "Content-Type": "application/json",
            "Accept-Language": lang, "Idempotency-Key": key + "/" + (pick.value || "uphold") },
          body: JSON.stringify(body),
        });
        const answer = await r.json().catch(() => ({}));
        out.textContent = r.ok ? t("ruled") : (answer.title || r.status) + (answer.detail ? "：" + answer.detail : "");
        out.classList.toggle("error", !r.ok);
      } catch (e) { out.textContent = t("offline"); out.classList.add("error"); }
      go.disabled = false;
    });
    td.append(pick, go, out); return td;
  }

  async function stream() {
    try {
      const r = await fetch("/v1/stream/breaches", { headers: { Authorization: "Bearer " + token } });
      if (r.status === 401) { logout(true); return; }
      if (!r.ok || !r.body) throw new Error("stream " + r.status);
      setLive(true);
      const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const chunk = buf.slice(0, i); buf = buf.slice(i + 2);
          let ev = "message"; const data = [];
          for (const line of chunk.split("\n")) {
            if (line.startsWith("event:")) ev = line.slice(6).trim();
            else if (line.startsWith("data:")) data.push(line.slice(5).trim());
          }
          if (ev === "board" && data.length) renderBoard(JSON.parse(data.join("\n")));
        }
      }
    } catch (e) { /* reconnect below */ }
    setLive(false);
    if (token) setTimeout(stream, 2000);
  }
  function setLive(on) { const el = $("live"); el.classList.toggle("off", !on); el.textContent = t(on ? "live" : "offline"); }

  // ---- charts (inline SVG, no library) ----
  const NS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs, parent) {
    const el = document.createElementNS(NS, tag);
    for (const k in attrs) el.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(el); return el;
  }
  function text(parent, x, y, s, anchor) {
    const el = svg("text", { x, y, "text-anchor": anchor || "middle" }, parent); el.textContent = s; return el;
  }
  const SERIES = ["response_rate", "resolution_rate", "satisfaction_rate"];
  function axes(root, W, H, L, B) {
    for (let p = 0; p <= 100; p += 25) {
      const y = H - B - (H - B - 10) * p / 100;
      svg("line", { x1: L, x2: W - 6, y1: y, y2: y, class: "grid" }, root);
      text(root, L - 6, y + 4, p + "%", "end");
    }
  }
  function barChart(el, rows) {
    el.textContent = "";
    if (!rows.length) { el.textContent = t("no_data"); return; }
    const W = 960, H = 260, L = 44, B = 48;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "rates" }, el);
    axes(root, W, H, L, B);
    const slot = (W - L - 10) / rows.length, bw = Math.min(22, slot / 4);
    rows.forEach((r, i) => {
      const x0 = L + i * slot + slot / 2 - bw * 1.5;
      SERIES.forEach((s, k) => {
        const v = r[s]; if (v === null || v === undefined) return;
        const h = Math.max((H - B - 10) * v, 2);
        const bar = svg("rect", { x: x0 + k * bw, y: H - B - h, width: bw - 2, height: h, class: "s" + k }, root);
        svg("title", {}, bar).textContent = `${name(group === "department" ? "departments" : "areas", r.group)} ${t(s)} ${pct(v)}`;
      });
      const label = name(group === "department" ? "departments" : "areas", r.group);
      text(root, L + i * slot + slot / 2, H - B + 16, label.length > 9 ? label.slice(0, 8) + "…" : label);
    });
  }
  function lineChart(el, buckets) {
    el.textContent = "";
    if (!buckets.length) { el.textContent = t("no_data"); return; }
    const W = 960, H = 220, L = 44, B = 30;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "trend" }, el);
    axes(root, W, H, L, B);
    const n = buckets.length, step = n > 1 ? (W - L - 20) / (n - 1) : 0;
    const X = (i) => L + 10 + i * step, Y = (v) => H - B - (H - B - 10) * v;
    SERIES.forEach((s, k) => {
      const pts = buckets.map((b, i) => [i, b[s]]).filter((p) => p[1] !== null);
      if (!pts.length) return;
      svg("path", { d: pts.map((p, j) => (j ? "L" : "M") + X(p[0]) + " " + Y(p[1])).join(" "), class: "line s" + k }, root);
      pts.forEach((p) => svg("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, class: "s" + k }, root));
    });
    const every = Math.ceil(n / 10);
    buckets.forEach((b, i) => {
      if (i % every === 0 || i === n - 1) text(root, X(i), H - 10, (b.bucket || "").slice(5, 10), i === n - 1 && n > 1 ? "end" : "middle");
    });
  }
  const avg = (v) => (v === null || v === undefined ? "–" : v.toFixed(2));
  function sum(rows) {
    const z = { dispatched: 0, acknowledged_in_time: 0, callbacks: 0, solved: 0, satisfied: 0, breached: 0,
      score_sum: 0, score_count: 0 };
    for (const r of rows) for (const k in z) z[k] += r[k] || 0;
    const ratio = (a, b) => (b ? a / b : null);
    z.response_rate = ratio(z.acknowledged_in_time, z.dispatched);
    z.resolution_rate = ratio(z.solved, z.callbacks);
    z.satisfaction_rate = ratio(z.satisfied, z.callbacks);
    z.average_score = ratio(z.score_sum, z.score_count);
    return z;
  }
  async function loadMetrics() {
    const m = await api(`/v1/rankings?group_by=${group}&by=score`);
    const rows = m.items.filter((r) => r.group);
    barChart($("rates-chart"), rows);
    const tb = $("ranking"); tb.textContent = "";
    rows.forEach((r, i) => {
      const tr = document.createElement("tr");
      cell(tr, i + 1); cell(tr, name(group === "department" ? "departments" : "areas", r.group));
      cell(tr, r.score === null || r.score === undefined ? "–" : r.score.toFixed(1));
      cell(tr, pct(r.response_rate)); cell(tr, pct(r.resolution_rate)); cell(tr, pct(r.satisfaction_rate));
      cell(tr, avg(r.average_score));
      cell(tr, r.dispatched); cell(tr, r.breaches ?? 0); tb.appendChild(tr);
    });
    const all = sum(m.items);
    $("k-response").textContent = pct(all.response_rate);
    $("k-resolution").textContent = pct(all.resolution_rate);
    $("k-satisfaction").textContent = pct(all.satisfaction_rate);
    $("k-score").textContent = avg(all.average_score);
    const daily = await api(`/v1/metrics?group_by=district&period=day`);
    const by = new Map();
    for (const r of daily.items) { if (!r.bucket) continue; const k = String(r.bucket).slice(0, 10); (by.get(k) || by.set(k, []).get(k)).push(r); }
    const buckets = [...by.keys()].sort().map((k) => ({ bucket: k, ...sum(by.get(k)) }));
    lineChart($("trend-chart"), buckets);
  }

  // 节假日日历: clocks counted past the last covered year, or the covered years ending soon.
  async function loadCalendar() {
    const status = await api("/v1/calendar/status");
    const list = $("calendar-reasons"); list.textContent = "";
    for (const r of status.reasons || []) {
      const li = document.createElement("li"); li.dataset.code = r.code; li.textContent = r.message;
      list.appendChild(li);
    }
    $("calendar-banner").hidden = !(status.reasons || []).length;
  }

  function logout(refused) {
    token = ""; sessionStorage.removeItem("whistle.token");
    $("main").hidden = true; $("login").hidden = false; $("logout").hidden = true;
    const err = $("login-error"); err.hidden = !refused; err.textContent = t("bad_token");
  }
  async function start() {
    $("login").hidden = true; $("main").hidden = false; $("logout").hidden = false;
    try { names = await (await fetch("/v1/names")).json(); } catch (e) { /* codes shown */ }
    stream();
    const refresh = () => loadMetrics().catch(() => {});
    refresh(); setInterval(refresh, 30000);
    const calendar = () => loadCalendar().catch(() => {});
    calendar(); setInterval(calendar, 60000);
  }

  applyLang();
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromHash) { token = fromHash; sessionStorage.setItem("whistle.token", token); history.replaceState(null, "", location.pathname + location.search); }
  document.querySelectorAll("#group-tabs button").forEach((b) => b.addEventListener("click", () => {
    group = b.dataset.group;
    document.querySelectorAll("#group-tabs button").forEach((x) => x.classList.toggle("on", x === b));
    loadMetrics().catch(() => {});
  }));
  $("login-form").addEventListener("submit", (e) => {
    e.preventDefault(); token = $("token").value.trim(); if (!token) return;
    sessionStorage.setItem("whistle.token", token); start();
  });
  $("logout").addEventListener("click", () => logout(false));
  if (token) start(); else logout(false);
})();
