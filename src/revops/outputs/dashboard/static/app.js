/* The revops dashboard: one page per panel, each drawn from its /api/... endpoint and redrawn
   when the live feed (GET /api/events) says something changed. */
(function () {
  "use strict";
  const C = window.RevopsCharts;
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const locale = boot.locale || navigator.language || "ja-JP";
  const main = document.getElementById("main");
  const form = document.getElementById("filters");
  const PAGES = ["won-to-paid", "collections", "nrr", "channels", "quality", "pipeline", "ingestion"];
  const STATUS_COLORS = {paid: "#2f9e74", partially_paid: "#e0a030", invoiced: "#3a98b9", not_invoiced: "#c8553d"};
  const BUCKET_COLORS = {"not_yet_due": "#2f9e74", "1-30": "#e0c030", "31-60": "#e0a030", "61-90": "#d97a30", "91-120": "#c8553d", "120+": "#8f2d2d"};
  const state = {page: "won-to-paid", channelDate: null, channelWindow: null, runId: null, activity: []};

  // ---- formatting -------------------------------------------------------------------------
  const cache = {};
  function nf(key, opts) {
    return cache[key] || (cache[key] = new Intl.NumberFormat(locale, opts));
  }
  function money(v, cur) {
    if (v === null || v === undefined) return "—";
    if (!cur) return nf("n2", {maximumFractionDigits: 2}).format(v);
    let f;
    try { f = nf("m" + cur, {style: "currency", currency: cur}); } catch (e) { return num(v, 2) + " " + cur; }
    // ja-JP renders a full-width yen sign; the dashboard shows the ASCII-width ¥.
    return f.format(v).replace("\uFFE5", "\u00A5");
  }
  function num(v, digits) {
    if (v === null || v === undefined) return "—";
    return nf("d" + (digits || 0), {maximumFractionDigits: digits || 0, minimumFractionDigits: 0}).format(v);
  }
  function pct(v, digits) {  // v already in percent (ROAS, CVR, CTR)
    if (v === null || v === undefined) return "—";
    return nf("p" + (digits ?? 1), {maximumFractionDigits: digits ?? 1, minimumFractionDigits: digits ?? 1}).format(v) + "%";
  }
  function ratio(v) {  // v a fraction (NRR, GRR, rates)
    return v === null || v === undefined ? "—" : pct(v * 100, 1);
  }
  function days(v) {
    if (v === null || v === undefined) return "—";
    return nf("days", {minimumFractionDigits: 1, maximumFractionDigits: 1}).format(v) + " d";
  }
  function secs(v) {
    if (v === null || v === undefined) return "—";
    if (Math.abs(v) < 120) return num(v, 1) + " s";
    if (Math.abs(v) < 7200) return num(v / 60, 1) + " min";
    return num(v / 3600, 1) + " h";
  }
  const dtf = new Intl.DateTimeFormat(locale, {timeZone: boot.timezone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"});
  function when(iso) { return iso ? dtf.format(new Date(iso)) : "—"; }
  function esc(s) {
    if (s === null || s === undefined) return "";
    return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }
  function label(s) { return esc(String(s ?? "—").replace(/_/g, " ")); }
  function attr(v) { return v === null || v === undefined ? "" : esc(String(v)); }

  // ---- building blocks --------------------------------------------------------------------
  function tile(id, title, value, text, sub, tone) {
    return `<div class="tile ${tone || ""}" data-testid="${id}" data-value="${attr(value)}">
      <div class="tile-title">${esc(title)}</div><div class="tile-value">${esc(text)}</div>
      ${sub ? `<div class="tile-sub">${esc(sub)}</div>` : ""}</div>`;
  }
  function card(title, body, extra) {
    return `<section class="card ${extra || ""}"><h2>${esc(title)}</h2>${body}</section>`;
  }
  /* cols: [{key, title, fmt(row)->text, value(row)->raw, cls}] */
  function table(id, cols, rows, emptyText) {
    if (!rows.length) return `<p class="empty" data-testid="${id}-empty">${esc(emptyText || "Nothing to show.")}</p>`;
    const head = cols.map((c) => `<th class="${c.cls || ""}">${esc(c.title)}</th>`).join("");
    const body = rows.map((r) => `<tr>${cols.map((c) => {
      const raw = c.value ? c.value(r) : r[c.key];
      const text = c.fmt ? c.fmt(r) : esc(raw ?? "—");
      return `<td class="${c.cls || ""}" data-col="${c.key}" data-value="${attr(raw)}">${text}</td>`;
    }).join("")}</tr>`).join("");
    return `<div class="table-wrap"><table data-testid="${id}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table></div>`;
  }
  function badge(status) {
    const s = String(status ?? "unknown");
    return `<span class="badge badge-${esc(s.replace(/[^a-z0-9_-]/gi, ""))}">${label(s)}</span>`;
  }
  const M = (key, curKey) => ({key, cls: "num", fmt: (r) => esc(money(r[key], r[curKey || "currency"]))});
  const N = (key, digits) => ({key, cls: "num", fmt: (r) => esc(num(r[key], digits))});

  function groupBy(rows, key) {
    const out = new Map();
    rows.forEach((r) => { const k = r[key] ?? "—"; if (!out.has(k)) out.set(k, []); out.get(k).push(r); });
    return out;
  }

  // ---- data -------------------------------------------------------------------------------
  function filterParams() {
    const p = new URLSearchParams();
    for (const name of ["date_from", "date_to", "currency"]) {
      const v = form.elements[name].value;
      if (v) p.set(name, v);
    }
    return p;
  }
  async function api(path, extra) {
    const p = filterParams();
    Object.entries(extra || {}).forEach(([k, v]) => { if (v !== null && v !== undefined && v !== "") p.set(k, v); });
    const q = p.toString();
    const res = await fetch(path + (q ? "?" + q : ""), {credentials: "same-origin", headers: {Accept: "application/json"}});
    if (res.status === 401) throw new Error("Not signed in: open the dashboard with its token or credentials.");
    if (!res.ok) throw new Error(`${path} answered ${res.status}`);
    return res.json();
  }

  // ---- pages ------------------------------------------------------------------------------
  const render = {};

  render["won-to-paid"] = async function () {
    const d = await api("/api/won-to-paid");
    const openTitle = d.open_count > d.open.length ? `Won, not yet paid (oldest ${num(d.open.length)} of ${num(d.open_count)})` : `Won, not yet paid (${num(d.open_count)})`;
    const byStatus = {};
    d.by_status.forEach((r) => { byStatus[r.status] = (byStatus[r.status] || 0) + r.opportunities; });
    const total = Object.values(byStatus).reduce((a, b) => a + b, 0);
    const lat = d.latency;
    const tiles = [
      tile("wtp-won", "Won", total, num(total), "opportunities"),
      ...["paid", "partially_paid", "invoiced", "not_invoiced"].map((s) =>
        tile("wtp-count-" + s, s.replace("_", " "), byStatus[s] || 0, num(byStatus[s] || 0),
             total ? ratio((byStatus[s] || 0) / total) + " of won" : "", "tone-" + s)),
      tile("wtp-median", "Median Won→Paid", lat.median_days, days(lat.median_days), "avg " + days(lat.avg_days)),
      tile("wtp-within-15", "Paid within 15 days", lat.within_15_days, lat.paid ? ratio(lat.within_15_days / lat.paid) : "—", num(lat.within_15_days) + " of " + num(lat.paid) + " paid"),
    ].join("");
    const amounts = table("wtp-status", [
      {key: "status", title: "Status", fmt: (r) => badge(r.status)},
      {key: "currency", title: "Currency"},
      {...N("opportunities"), title: "Opportunities"}, {...M("amount"), title: "Amount"},
      {...M("invoiced_amount"), title: "Invoiced"}, {...M("paid_amount"), title: "Paid"},
    ], d.by_status, "No won opportunities in this range.");
    const hist = C.vbars(lat.bands.map((b) => ({label: b.band === "prepaid" ? "prepaid" : b.band + " d", value: b.opportunities,
      color: b.band === "prepaid" || b.band === "0-7" || b.band === "7-15" ? "#2f9e74" : "#e0a030"})),
      {format: (v) => num(v), title: "Won→Paid days", empty: "No paid opportunities yet."});
    const open = table("wtp-open", [
      {key: "opportunity_id", title: "Opportunity", fmt: (r) => `<b>${esc(r.opportunity_name || r.opportunity_id)}</b><div class="muted">${esc(r.opportunity_id)}</div>`},
      {key: "account_id", title: "Account"},
      {key: "status", title: "Status", fmt: (r) => badge(r.status)},
      {key: "won_at", title: "Won", fmt: (r) => esc(when(r.won_at))},
      {key: "age_days", title: "Age", cls: "num", fmt: (r) => `<span class="${r.age_days > 15 ? "warn" : ""}">${esc(days(r.age_days))}</span>`},
      {...M("amount"), title: "Amount"},
      {key: "remaining", title: "Unpaid", cls: "num", value: (r) => (r.amount || 0) - (r.paid_amount || 0),
       fmt: (r) => esc(money((r.amount || 0) - (r.paid_amount || 0), r.currency))},
    ], d.open, total ? "Every won opportunity is paid." : "No won opportunities in this range.");
    return `<div class="tiles">${tiles}</div>
      <div class="grid2 split">${card("Latency from Closed Won to first payment", hist)}${card("Amounts by status", amounts)}</div>
      ${card(openTitle, open)}
      ${card("Live activity", activityList(), "activity-card")}`;
  };

  function activityList() {
    if (!state.activity.length) return `<p class="empty" data-testid="activity-empty">Waiting for events… new webhooks appear here as they land.</p>`;
    return `<ul class="activity" data-testid="activity">${state.activity.map((a) => `<li data-topic="${esc(a.topic)}"><time>${esc(when(a.at))}</time> <b>${label(a.topic)}</b> ${esc(a.text)}</li>`).join("")}</ul>`;
  }

  render["collections"] = async function () {
    const d = await api("/api/collections");
    if (!d.as_of) return card("Collections", `<p class="empty" data-testid="col-empty">No collections snapshot yet (run the transforms).</p>`);
    const per = groupBy(d.buckets, "currency");
    let blocks = "";
    for (const [cur, rows] of per) {
      const receivable = rows.filter((r) => r.bucket in BUCKET_COLORS);
      const total = receivable.reduce((a, r) => a + (r.amount_remaining || 0), 0);
      const overdue = receivable.filter((r) => r.bucket !== "not_yet_due").reduce((a, r) => a + (r.amount_remaining || 0), 0);
      const chart = C.hbars(receivable.map((r) => ({label: r.bucket.replace(/_/g, " "), value: r.amount_remaining, color: BUCKET_COLORS[r.bucket]})),
        {format: (v) => money(v, cur), title: "Aging " + cur, empty: "Nothing receivable."});
      const t = table("col-buckets-" + cur, [
        {key: "bucket", title: "Bucket", fmt: (r) => badge(r.bucket)}, {...N("invoices"), title: "Invoices"},
        {...M("amount_remaining"), title: "Remaining"}], rows);
      blocks += `<div class="tiles">${tile("col-receivable-" + cur, "Receivable " + cur, total, money(total, cur))}${tile("col-overdue-" + cur, "Overdue " + cur, overdue, money(overdue, cur), total ? ratio(overdue / total) + " of receivable" : "", overdue ? "tone-not_invoiced" : "")}</div>
        <div class="grid2">${card("Aging buckets · " + cur, chart)}${card("Buckets · " + cur, t)}</div>`;
    }
    const overdue = table("col-overdue", [
      {key: "invoice_id", title: "Invoice"}, {key: "customer_id", title: "Customer"},
      {key: "due_date", title: "Due"}, {...N("days_past_due"), title: "Days past due"},
      {key: "bucket", title: "Bucket", fmt: (r) => badge(r.bucket)}, {...M("amount_remaining"), title: "Remaining"},
    ], d.overdue, "Nothing overdue.");
    const more = d.overdue_count > d.overdue.length ? ` (most overdue ${num(d.overdue.length)} of ${num(d.overdue_count)})` : ` (${num(d.overdue_count)})`;
    return `<p class="asof">As of <b data-testid="col-asof">${esc(d.as_of)}</b></p>${blocks || "<p class='empty'>No invoices.</p>"}${card("Overdue invoices" + more, overdue)}`;
  };

  render["nrr"] = async function () {
    const d = await api("/api/nrr");
    if (!d.months.length) return card("NRR", `<p class="empty" data-testid="nrr-empty">No NRR months in this range.</p>`);
    let out = "";
    for (const [cur, rows] of groupBy(d.months, "currency")) {
      const last = rows[rows.length - 1];
      const labels = rows.map((r) => r.month.slice(0, 7));
      const chart = C.lines(labels, [
        {name: "NRR", values: rows.map((r) => (r.nrr === null ? null : r.nrr * 100)), color: "#1f4e8c"},
        {name: "GRR", values: rows.map((r) => (r.grr === null ? null : r.grr * 100)), color: "#2f9e74"},
      ], {format: (v) => num(v, 0) + "%", title: "NRR and GRR " + cur, min: 90});
      const t = table("nrr-" + cur, [
        {key: "month", title: "Month", fmt: (r) => esc(r.month.slice(0, 7))},
        {...M("start_mrr"), title: "Start MRR"}, {...M("new"), title: "New"}, {...M("expansion"), title: "Expansion"},
        {...M("contraction"), title: "Contraction"}, {...M("churn"), title: "Churn"}, {...M("reactivation"), title: "Reactivation"},
        {...M("end_mrr"), title: "End MRR"},
        {key: "nrr", title: "NRR", cls: "num", fmt: (r) => esc(ratio(r.nrr))},
        {key: "grr", title: "GRR", cls: "num", fmt: (r) => esc(ratio(r.grr))},
      ], rows.slice().reverse());
      const moves = C.groups(labels, [
        {name: "New", values: rows.map((r) => r.new), color: "#2f9e74"},
        {name: "Expansion", values: rows.map((r) => r.expansion), color: "#7fd1ae"},
        {name: "Reactivation", values: rows.map((r) => r.reactivation), color: "#3a98b9"},
        {name: "Contraction", values: rows.map((r) => -(r.contraction || 0)), color: "#e0a030"},
        {name: "Churn", values: rows.map((r) => -(r.churn || 0)), color: "#c8553d"},
      ], {format: (v) => money(v, cur), title: "MRR movements " + cur});
      out += `<div class="tiles">${tile("nrr-last-" + cur, "NRR " + labels[labels.length - 1] + " · " + cur, last.nrr, ratio(last.nrr))}${tile("grr-last-" + cur, "GRR " + labels[labels.length - 1], last.grr, ratio(last.grr))}${tile("mrr-last-" + cur, "End MRR", last.end_mrr, money(last.end_mrr, cur))}</div>
        <div class="grid2">${card("NRR and GRR · " + cur, chart)}${card("MRR movements · " + cur, moves)}</div>${card("By month · " + cur, t)}`;
    }
    return out;
  };

  render["channels"] = async function () {
    const d = await api("/api/channels", {date: state.channelDate, window_days: state.channelWindow});
    if (!d.date) return card("Channels", `<p class="empty" data-testid="ch-empty">No channel KPIs yet (run the daily pipeline).</p>`);
    const opts = d.choices.map((c) => `<option value="${esc(c.date)}|${esc(c.window_days)}" ${c.date === d.date && c.window_days === d.window_days ? "selected" : ""}>${esc(c.date)} · ${esc(c.window_days)} days</option>`).join("");
    const s = d.summary || {};
    const first = d.channels[0] || {};
    const period = `${first.period_start || s.period_start || ""} → ${first.period_end || s.period_end || ""}`;
    const yen = boot.marketing_currency || "JPY";  // the marketing marts hold one reporting currency
    const tiles = [
      tile("ch-best", "Best channel", s.best_channel, s.best_channel || "—", s.best_channel_roas !== undefined ? "ROAS " + pct(s.best_channel_roas) : "", "tone-paid"),
      tile("ch-cost", "Ad cost", s.total_ad_cost, money(s.total_ad_cost, yen)),
      tile("ch-revenue", "Revenue", s.total_revenue, money(s.total_revenue, yen)),
      tile("ch-roas", "Overall ROAS", s.overall_roas, pct(s.overall_roas)),
      tile("ch-cac", "Overall CAC", s.overall_cac, money(s.overall_cac, yen), num(s.total_customers) + " new customers"),
      tile("ch-cvr", "CVR", s.avg_cvr, pct(s.avg_cvr, 2)),
    ].join("");
    const ym = (key) => ({key, cls: "num", fmt: (r) => esc(money(r[key], yen))});
    const t = table("ch-table", [
      {key: "channel", title: "Channel", fmt: (r) => `<b>${esc(r.channel)}</b>${r.channel === s.best_channel ? ' <span class="badge badge-paid">best</span>' : ""}`},
      {...N("impressions"), title: "Impr."}, {...N("clicks"), title: "Clicks"}, {...ym("ad_cost"), title: "Ad cost"},
      {...N("conversions"), title: "Conv."}, {...N("new_customers"), title: "New cust."},
      {...ym("period_revenue"), title: "Revenue"}, {...ym("cac"), title: "CAC"}, {...ym("avg_ltv"), title: "Avg LTV"},
      {key: "roas", title: "ROAS", cls: "num", fmt: (r) => esc(pct(r.roas))},
      {key: "cvr", title: "CVR", cls: "num", fmt: (r) => esc(pct(r.cvr, 2))},
      {key: "ctr", title: "CTR", cls: "num", fmt: (r) => esc(pct(r.ctr, 2))},
      {key: "ltv_cac_ratio", title: "LTV/CAC", cls: "num", fmt: (r) => esc(num(r.ltv_cac_ratio, 2))},
    ], d.channels);
    const roas = C.hbars(d.channels.map((r) => ({label: r.channel, value: r.roas, color: r.roas >= 300 ? "#2f9e74" : r.roas >= 100 ? "#3a98b9" : "#c8553d"})),
      {format: (v) => pct(v), title: "ROAS by channel", empty: "No channel with ad cost."});
    const cac = C.hbars(d.channels.filter((r) => r.cac !== null).sort((a, b) => a.cac - b.cac).map((r) => ({label: r.channel, value: r.cac, color: "#7a5ea8"})),
      {format: (v) => money(v, yen), title: "CAC by channel", empty: "No channel with new customers."});
    return `<div class="toolbar"><label>KPI date and window <select id="ch-choice" data-testid="ch-choice">${opts}</select></label><span class="muted">period ${esc(period)}</span></div>
      <div class="tiles">${tiles}</div>
      <div class="grid2">${card("ROAS by channel", roas)}${card("CAC by channel", cac)}</div>
      ${card("Channel KPIs", t)}`;
  };

  render["quality"] = async function () {
    const d = await api("/api/quality");
    const passed = d.latest.filter((r) => r.success).length;
    const failed = d.latest.length - passed;
    const blocking = d.latest.filter((r) => !r.success && r.severity === "error").length;
    const tiles = [
      tile("dq-checks", "Expectations (latest runs)", d.latest.length, num(d.latest.length)),
      tile("dq-passed", "Passed", passed, num(passed), "", "tone-paid"),
      tile("dq-failed", "Failed", failed, num(failed), blocking ? num(blocking) + " blocking" : "", failed ? "tone-not_invoiced" : ""),
    ].join("");
    const cols = [
      {key: "suite", title: "Suite"}, {key: "expectation", title: "Expectation"}, {key: "column", title: "Column"},
      {key: "severity", title: "Severity"},
      {key: "success", title: "Result", fmt: (r) => badge(r.success ? "passed" : "failed")},
      {key: "unexpected_count", title: "Unexpected", cls: "num", fmt: (r) => esc(num(r.unexpected_count))},
      {key: "unexpected_percent", title: "%", cls: "num", fmt: (r) => esc(pct(r.unexpected_percent, 2))},
      {key: "checked_at", title: "Checked", fmt: (r) => esc(when(r.checked_at))},
    ];
    return `<div class="tiles">${tiles}</div>${card("Latest results", table("dq-latest", cols, d.latest, "No checks have run yet."))}
      ${card(`Failures in range (${num(d.failures.length)})`, table("dq-failures", cols.concat([{key: "unexpected_sample", title: "Sample", fmt: (r) => `<code>${esc(r.unexpected_sample || "")}</code>`}]), d.failures, "No failures."))}`;
  };

  render["pipeline"] = async function () {
    const d = await api("/api/pipeline", {run_id: state.runId});
    const runs = table("pl-runs", [
      {key: "run_id", title: "Run", fmt: (r) => `<a href="#pipeline" class="run-link ${r.run_id === d.run_id ? "chosen" : ""}" data-run="${esc(r.run_id)}">${esc(r.run_id)}</a>`},
      {key: "pipeline", title: "Pipeline"}, {key: "run_date", title: "Date"},
      {key: "status", title: "Status", fmt: (r) => badge(r.status)},
      {key: "started_at", title: "Started", fmt: (r) => esc(when(r.started_at))},
      {key: "ended_at", title: "Ended", fmt: (r) => esc(when(r.ended_at))},
      {...N("attempts"), title: "Attempts"}, {...N("failed_attempts"), title: "Failed"},
      {key: "error", title: "Error", fmt: (r) => `<span class="err">${esc(r.error || "")}</span>`},
    ], d.runs, "No pipeline runs in this range.");
    const tasks = table("pl-tasks", [
      {key: "task_id", title: "Task"}, {...N("attempt"), title: "Attempt"},
      {key: "status", title: "Status", fmt: (r) => badge(r.status)},
      {key: "started_at", title: "Started", fmt: (r) => esc(when(r.started_at))},
      {key: "duration_seconds", title: "Duration", cls: "num", fmt: (r) => esc(secs(r.duration_seconds))},
      {key: "error", title: "Error", fmt: (r) => `<span class="err">${esc(r.error || "")}</span>`},
    ], d.tasks, "No tasks.");
    const ok = d.runs.filter((r) => r.status === "success").length;
    const tiles = [tile("pl-runs-count", "Runs", d.runs.length, num(d.runs.length)),
      tile("pl-last", "Last run", d.runs[0] ? d.runs[0].status : null, d.runs[0] ? d.runs[0].status : "—", d.runs[0] ? when(d.runs[0].started_at) : "", d.runs[0] && d.runs[0].status !== "success" ? "tone-not_invoiced" : "tone-paid"),
      tile("pl-ok", "Succeeded", ok, num(ok))].join("");
    return `<div class="tiles">${tiles}</div>${card("Pipeline runs", runs)}${card("Tasks of " + (d.run_id || "—"), tasks)}`;
  };

  render["ingestion"] = async function () {
    const d = await api("/api/ingestion");
    const dup = d.duplicates;
    const pending = d.dead_letter_counts.reduce((a, r) => a + r.pending, 0);
    const events = d.freshness.reduce((a, r) => a + r.events, 0);
    const weighted = events ? d.freshness.reduce((a, r) => a + (r.avg_lag_seconds || 0) * r.events, 0) / events : null;
    const tiles = [
      tile("in-events", "Events landed", events, num(events)),
      tile("in-avg-lag", "Average delay", weighted, secs(weighted), "target: under 15 min", weighted !== null && weighted > 900 ? "tone-not_invoiced" : "tone-paid"),
      tile("in-dup-rate", "Duplicate rate", dup.duplicate_rate, ratio(dup.duplicate_rate), num(dup.duplicates) + " of " + num(dup.deliveries) + " deliveries"),
      tile("in-dead", "Dead letters pending", pending, num(pending), "", pending ? "tone-not_invoiced" : ""),
    ].join("");
    const rx = d.receiver;
    const rxTiles = rx ? [
      tile("rx-mart", "Receipt → marts (avg)", rx.receipt_to_mart_avg_seconds, secs(rx.receipt_to_mart_avg_seconds), num(rx.receipt_to_mart_events) + " events · target under 15 min",
           rx.receipt_to_mart_avg_seconds !== null && rx.receipt_to_mart_avg_seconds > 900 ? "tone-not_invoiced" : "tone-paid"),
      tile("rx-accepted", "Accepted by the receiver", rx.accepted, num(rx.accepted)),
      tile("rx-duplicates", "Duplicates at the receiver", rx.duplicates, num(rx.duplicates), rx.accepted + rx.duplicates ? ratio(rx.duplicates / (rx.accepted + rx.duplicates)) + " of deliveries" : ""),
      tile("rx-bus", "Waiting on the bus", rx.bus_depth, num(rx.bus_depth)),
    ].join("") : "";
    const fresh = table("in-freshness", [
      {key: "source", title: "Source"}, {key: "type", title: "Type"}, {...N("events"), title: "Events"},
      {key: "avg_lag_seconds", title: "Avg delay", cls: "num", fmt: (r) => esc(secs(r.avg_lag_seconds))},
      {key: "p95_lag_seconds", title: "p95", cls: "num", fmt: (r) => esc(secs(r.p95_lag_seconds))},
      {key: "max_lag_seconds", title: "Max", cls: "num", fmt: (r) => esc(secs(r.max_lag_seconds))},
      {key: "last_inserted_at", title: "Last landed", fmt: (r) => esc(when(r.last_inserted_at))},
    ], d.freshness, "No events landed in this range.");
    const counts = table("in-dead-counts", [
      {key: "source", title: "Source"}, {key: "reason", title: "Reason"}, {...N("total"), title: "Total"},
      {...N("pending"), title: "Pending"}, {key: "last_received_at", title: "Last", fmt: (r) => esc(when(r.last_received_at))}],
      d.dead_letter_counts, "No dead letters.");
    const list = table("in-dead-list", [
      {...N("id"), title: "#"}, {key: "received_at", title: "Received", fmt: (r) => esc(when(r.received_at))},
      {key: "source", title: "Source"}, {key: "reason", title: "Reason", fmt: (r) => badge(r.reason)},
      {key: "detail", title: "Detail", fmt: (r) => `<code>${esc(r.detail || "")}</code>`},
      {key: "replayed_at", title: "Replayed", fmt: (r) => esc(r.replayed_at ? when(r.replayed_at) : "pending")}],
      d.dead_letters, "No dead letters.");
    const server = rx ? `<h3 class="section">This server since it started</h3><div class="tiles">${rxTiles}</div>` : "";
    return `<div class="tiles">${tiles}</div>${server}${card("Freshness per source and type", fresh)}
      <div class="grid2">${card("Dead letters by reason", counts)}${card("Latest dead letters", list)}</div>`;
  };

  // ---- navigation and refresh -------------------------------------------------------------
  let loading = 0;
  async function load() {
    const page = state.page;
    const seq = ++loading;
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
    document.body.dataset.page = page;
    try {
      const html = await render[page]();
      if (seq !== loading) return;  // a newer load started: drop this one
      main.innerHTML = `<div class="page" data-testid="page-${page}">${html}</div>`;
      document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString(locale);
      document.body.dataset.loaded = page + ":" + seq;
    } catch (err) {
      if (seq !== loading) return;
      main.innerHTML = `<div class="page error" data-testid="page-error">${esc(err.message)}</div>`;
    }
  }
  function route() {
    const name = location.hash.replace(/^#/, "").split("?")[0];
    state.page = PAGES.includes(name) ? name : "won-to-paid";
    load();
  }

  let timer = null;
  function refreshSoon() {
    clearTimeout(timer);
    timer = setTimeout(load, 250);  // coalesce bursts of messages into one redraw
  }

  function toast(text) {
    const box = document.getElementById("toasts");
    const el = document.createElement("div");
    el.className = "toast";
    el.textContent = text;
    box.appendChild(el);
    setTimeout(() => el.remove(), 5000);
    while (box.children.length > 4) box.firstChild.remove();
  }

  function describe(topic, data) {
    if (topic === "events_landed") {
      const types = (data.types || []).join(", ");
      return `${num(data.count ?? (data.event_ids || []).length)} event(s) ${types}${data.event_ids && data.event_ids.length ? " · " + data.event_ids.slice(0, 3).join(", ") : ""}`;
    }
    if (topic === "marts_refreshed") return "marts " + (data.tables || data.marts || []).join(", ");
    if (topic === "pipeline_run") return [data.pipeline, data.run_id, data.status].filter(Boolean).join(" · ");
    return "";
  }

  function connect() {
    const live = document.getElementById("live");
    const setState = (s, text) => { live.dataset.state = s; live.querySelector(".label").textContent = text; };
    const source = new EventSource("/api/events");
    source.addEventListener("ready", (e) => { setState("live", "live"); document.body.dataset.live = JSON.parse(e.data).live; });
    for (const topic of ["events_landed", "marts_refreshed", "pipeline_run"]) {
      source.addEventListener(topic, (e) => {
        const msg = JSON.parse(e.data);
        const text = describe(topic, msg.data || {});
        state.activity.unshift({topic, at: msg.at, text});
        state.activity = state.activity.slice(0, 20);
        document.body.dataset.lastMessage = msg.id;
        toast(topic.replace(/_/g, " ") + ": " + text);
        refreshSoon();
      });
    }
    source.onerror = () => setState("down", "reconnecting");  // EventSource retries by itself
  }

  async function fillCurrencies() {
    try {
      const meta = await api("/api/meta");
      const sel = form.elements.currency;
      meta.currencies.forEach((c) => { const o = document.createElement("option"); o.value = c; o.textContent = c; sel.appendChild(o); });
      const wanted = new URLSearchParams(location.search).get("currency");
      if (wanted) sel.value = wanted;
    } catch (e) { /* the page shows the error on load */ }
  }

  function syncUrl() {
    const p = filterParams();
    history.replaceState(null, "", location.pathname + (p.toString() ? "?" + p : "") + location.hash);
  }

  form.addEventListener("change", () => { syncUrl(); load(); });
  form.addEventListener("reset", () => setTimeout(() => { syncUrl(); load(); }, 0));
  form.addEventListener("submit", (e) => e.preventDefault());
  main.addEventListener("change", (e) => {
    if (e.target.id === "ch-choice") {
      const [d, w] = e.target.value.split("|");
      state.channelDate = d; state.channelWindow = w;
      load();
    }
  });
  main.addEventListener("click", (e) => {
    const link = e.target.closest(".run-link");
    if (link) { e.preventDefault(); state.runId = link.dataset.run; load(); }
  });
  window.addEventListener("hashchange", route);

  const initial = new URLSearchParams(location.search);
  for (const name of ["date_from", "date_to"]) if (initial.get(name)) form.elements[name].value = initial.get(name);
  fillCurrencies().then(route);
  connect();
})();
