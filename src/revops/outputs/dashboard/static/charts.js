/* Small inline-SVG charts for the revops dashboard (no external library, no network). */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f4e8c", "#2f9e74", "#e0a030", "#c8553d", "#7a5ea8", "#3a98b9", "#8c8c8c"];

  function esc(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  }

  function empty(msg) {
    return `<div class="chart-empty">${esc(msg || "No data")}</div>`;
  }

  /* Horizontal bars: items [{label, value, color?}], opts {format, title}. */
  function hbars(items, opts) {
    opts = opts || {};
    const rows = items.filter((d) => d.value !== null && d.value !== undefined);
    if (!rows.length) return empty(opts.empty);
    const fmt = opts.format || String;
    const max = Math.max(...rows.map((d) => Math.abs(d.value)), 0) || 1;
    const rowH = 28, labelW = 120, valueW = 110, width = 560;
    const barW = width - labelW - valueW;
    const height = rows.length * rowH + 8;
    let out = `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(opts.title || "bar chart")}" xmlns="${NS}">`;
    rows.forEach((d, i) => {
      const y = 4 + i * rowH;
      const w = Math.max(2, (Math.abs(d.value) / max) * barW);
      const color = d.color || opts.color || PALETTE[0];
      out += `<text x="${labelW - 8}" y="${y + 18}" text-anchor="end" class="axis">${esc(d.label)}</text>`;
      out += `<rect x="${labelW}" y="${y + 4}" width="${w}" height="${rowH - 10}" rx="3" fill="${color}"><title>${esc(d.label)}: ${esc(fmt(d.value))}</title></rect>`;
      out += `<text x="${labelW + w + 6}" y="${y + 18}" class="value">${esc(fmt(d.value))}</text>`;
    });
    return out + "</svg>";
  }

  /* Vertical bars (a histogram): items [{label, value}], opts {format, color}. */
  function vbars(items, opts) {
    opts = opts || {};
    if (!items.length || items.every((d) => !d.value)) return empty(opts.empty);
    const fmt = opts.format || String;
    const width = 560, height = 220, top = 20, bottom = 34, left = 12;
    const max = Math.max(...items.map((d) => d.value), 0) || 1;
    const slot = (width - left * 2) / items.length;
    const barW = Math.min(70, slot * 0.7);
    let out = `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(opts.title || "histogram")}" xmlns="${NS}">`;
    out += `<line x1="${left}" x2="${width - left}" y1="${height - bottom}" y2="${height - bottom}" class="grid"/>`;
    items.forEach((d, i) => {
      const h = (d.value / max) * (height - top - bottom);
      const x = left + i * slot + (slot - barW) / 2;
      const y = height - bottom - h;
      const color = d.color || opts.color || PALETTE[0];
      out += `<rect x="${x}" y="${y}" width="${barW}" height="${Math.max(h, d.value ? 2 : 0)}" rx="3" fill="${color}"><title>${esc(d.label)}: ${esc(fmt(d.value))}</title></rect>`;
      out += `<text x="${x + barW / 2}" y="${y - 5}" text-anchor="middle" class="value">${esc(fmt(d.value))}</text>`;
      out += `<text x="${x + barW / 2}" y="${height - bottom + 18}" text-anchor="middle" class="axis">${esc(d.label)}</text>`;
    });
    return out + "</svg>";
  }

  /* Lines: labels [x...], series [{name, values:[...], color?}], opts {format, min, max}. */
  function lines(labels, series, opts) {
    opts = opts || {};
    const fmt = opts.format || String;
    const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
    if (!labels.length || !all.length) return empty(opts.empty);
    const width = 560, height = 240, left = 56, right = 34, top = 16, bottom = 40;
    let lo = Math.min(...all, opts.min ?? Infinity), hi = Math.max(...all, opts.max ?? -Infinity);
    if (hi === lo) { hi += 0.1; lo -= 0.1; }
    const pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
    const x = (i) => left + (labels.length === 1 ? (width - left - right) / 2 : (i / (labels.length - 1)) * (width - left - right));
    const y = (v) => top + (1 - (v - lo) / (hi - lo)) * (height - top - bottom);
    let out = `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(opts.title || "line chart")}" xmlns="${NS}">`;
    for (let k = 0; k <= 4; k++) {
      const v = lo + ((hi - lo) * k) / 4;
      out += `<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" class="grid"/>`;
      out += `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" class="axis">${esc(fmt(v))}</text>`;
    }
    const step = Math.max(1, Math.ceil(labels.length / 8));
    labels.forEach((l, i) => {
      if (i % step === 0 || i === labels.length - 1) out += `<text x="${x(i)}" y="${height - bottom + 18}" text-anchor="middle" class="axis">${esc(l)}</text>`;
    });
    series.forEach((s, si) => {
      const color = s.color || PALETTE[si % PALETTE.length];
      const pts = s.values.map((v, i) => (v === null || v === undefined ? null : [x(i), y(v), v, i])).filter(Boolean);
      if (pts.length > 1) out += `<polyline fill="none" stroke="${color}" stroke-width="2.5" points="${pts.map((p) => p[0] + "," + p[1]).join(" ")}"/>`;
      pts.forEach((p) => { out += `<circle cx="${p[0]}" cy="${p[1]}" r="3.5" fill="${color}"><title>${esc(s.name)} ${esc(labels[p[3]])}: ${esc(fmt(p[2]))}</title></circle>`; });
    });
    out += "</svg>";
    out += `<div class="legend">${series.map((s, si) => `<span><i style="background:${s.color || PALETTE[si % PALETTE.length]}"></i>${esc(s.name)}</span>`).join("")}</div>`;
    return out;
  }

  /* Grouped bars around a zero line (gains up, losses down): labels [x...],
     series [{name, values, color}], opts {format}. */
  function groups(labels, series, opts) {
    opts = opts || {};
    const fmt = opts.format || String;
    const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
    if (!labels.length || !all.length || all.every((v) => !v)) return empty(opts.empty || "No movements.");
    const width = 560, height = 240, left = 12, right = 12, top = 14, bottom = 40;
    const hi = Math.max(0, ...all), lo = Math.min(0, ...all);
    const span = hi - lo || 1;
    const y = (v) => top + ((hi - v) / span) * (height - top - bottom);
    const slot = (width - left - right) / labels.length;
    const barW = Math.min(18, (slot * 0.8) / series.length);
    let out = `<svg class="chart" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(opts.title || "grouped bars")}" xmlns="${NS}">`;
    out += `<line x1="${left}" x2="${width - right}" y1="${y(0)}" y2="${y(0)}" class="grid"/>`;
    labels.forEach((l, i) => {
      const x0 = left + i * slot + (slot - barW * series.length) / 2;
      series.forEach((s, si) => {
        const v = s.values[i] || 0;
        if (!v) return;
        const color = s.color || PALETTE[si % PALETTE.length];
        out += `<rect x="${x0 + si * barW}" y="${Math.min(y(v), y(0))}" width="${barW - 2}" height="${Math.max(1, Math.abs(y(v) - y(0)))}" rx="2" fill="${color}"><title>${esc(s.name)} ${esc(l)}: ${esc(fmt(Math.abs(v)))}</title></rect>`;
      });
      out += `<text x="${left + i * slot + slot / 2}" y="${height - bottom + 18}" text-anchor="middle" class="axis">${esc(l)}</text>`;
    });
    out += "</svg>";
    out += `<div class="legend">${series.map((s, si) => `<span><i style="background:${s.color || PALETTE[si % PALETTE.length]}"></i>${esc(s.name)}</span>`).join("")}</div>`;
    return out;
  }

  window.RevopsCharts = {hbars, vbars, lines, groups, PALETTE};
})();
