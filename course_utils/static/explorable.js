// The static explorable's script (course_utils.explorable.Explorable.html inlines it, so a page or a
// notebook output needs no other file). It draws the panels of one explorable from its embedded JSON:
// the spec (controls, panels, messages) and the precomputed curves of every setting.
// Called as courseExplorable(root, W, H): root is the explorable's <div>, W its width and H a panel's
// height in CSS pixels. Checked by `node --check` and by the browser tests (tests/test_explorables_browser.py).
// The two helpers before courseExplorable are shared: the surface explorer's script (surface_explorer.js,
// course_utils.explorer.static_explorer_html) is inlined after this file and draws with them too.
/* exported courseExplorable, courseSvgEl, courseFmt */
// An SVG element with the given attributes (null / undefined ones left out), text and parent.
function courseSvgEl(tag, attrs, parent, text){ const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text; if (parent) parent.appendChild(e); return e; }
// A number as a figure shows it: 4 significant digits, or exponent notation at 1e4 and above and below 1e-3;
// expDigits absent: the short form "1e-5" (the explorables), else toExponential(expDigits) ("3.00e-4").
function courseFmt(v, expDigits){ if (v === 0) return "0";
  if (Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3)
    return expDigits === undefined ? v.toExponential(0).replace("e+", "e") : v.toExponential(expDigits);
  return (+v.toPrecision(4)).toString(); }
function courseExplorable(root, W, H) {
const uid = root.id;
const D = JSON.parse(root.querySelector("script[type='application/json']").textContent);
const PW = Math.floor(W / D.columns) - 4;
const box = root.querySelector(".xpl-controls"), fig = root.querySelector(".xpl-figure");
const inputs = {}, readouts = {}, logs = {}, rows = {};
const el = courseSvgEl, fmt = (v) => courseFmt(v);
function tpl(s, f){ return s.replace(/\{(\w+)\}/g, (m, k) => (k in f) ? f[k] : m); }
D.controls.forEach((c) => {
  const lab = document.createElement("label"); lab.textContent = c.label; lab.htmlFor = uid + "-" + c.name;
  box.appendChild(lab);
  const cell = document.createElement("span"); box.appendChild(cell); rows[c.name] = [lab, cell];
  let inp;
  if (c.kind === "menu") { inp = document.createElement("select");
    c.texts.forEach((t, j) => inp.add(new Option(t, j))); inp.onchange = update; }
  else { inp = document.createElement("input"); inp.type = "range"; inp.min = 0; inp.max = c.values.length - 1;
    inp.step = 1; inp.oninput = update; inp.style.verticalAlign = "middle"; }
  inp.value = c.default; inp.className = "xpl-c-" + c.name; inp.id = uid + "-" + c.name;
  cell.appendChild(inp); inputs[c.name] = inp;
  if (c.kind === "slider") { const r = document.createElement("b"); r.className = "xpl-r-" + c.name;
    r.style.marginLeft = "6px"; cell.appendChild(r); readouts[c.name] = r; }
});
D.panels.forEach((p, i) => { if (p.yscale !== "toggle") return;
  const lab = document.createElement("label"); lab.textContent = "log scale"; box.appendChild(lab);
  const cb = document.createElement("input"); cb.type = "checkbox"; cb.className = "xpl-log-" + i;
  cb.id = uid + "-log-" + i; lab.htmlFor = cb.id; cb.setAttribute("aria-describedby", cb.id + "-t");
  cb.onchange = update;
  const cell = document.createElement("span"); cell.appendChild(cb);
  const t = document.createElement("span"); t.textContent = " " + p.title; t.id = cb.id + "-t"; cell.appendChild(t);
  box.appendChild(cell); logs[i] = cb; });
const svgs = D.panels.map((p, i) => el("svg", {viewBox: "0 0 " + PW + " " + H, role: "img", "aria-label": p.title,
  "class": "xpl-panel xpl-panel-" + i, style: "font-family:sans-serif;flex:0 1 " + PW + "px;min-width:0;max-width:100%;height:auto"}, fig));
function byName(n){ return D.controls.find((c) => c.name === n); }
function value(c){ return c.values[+inputs[c.name].value]; }
function active(c){ for (const k in c.when) { const o = byName(k);
    if (!active(o) || !c.when[k].includes(value(o))) return false; } return true; }
function decode(enc, x0, dx){ let x = null, y;
  if (Array.isArray(enc)) y = enc;
  else { x = enc.x || null;
    if (enc.r) { y = []; for (let i = 0; i < enc.r.length; i += 2) for (let j = 0; j < enc.r[i + 1]; j++) y.push(enc.r[i]); }
    else y = enc.y; }
  if (!x) x = y.map((_, i) => x0 + i * dx);
  return [x, y]; }
function events(x, y, p, log){ const back = p.flow === "backward";
  for (let k = 0; k < y.length; k++) { const i = back ? y.length - 1 - k : k, v = y[i];
    if (v === null || !isFinite(v)) return [k, "nan", x[i]];
    if (p.floor !== null && v < p.floor) return [k, "floor", x[i]];
    if (p.ceil !== null && v > p.ceil) return [k, "ceil", x[i]];
    if (log && v <= 0) return [k, "nonpositive", x[i]]; }
  return [y.length, null, null]; }
function niceTicks(lo, hi, n){ const span = hi - lo, raw = span / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= n) || 10 * mag;
  const out = []; for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) out.push(Math.abs(t) < step * 1e-9 ? 0 : t);
  return out; }
function drawPanel(svg, p, i, pt){
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const log = p.yscale === "log" || (logs[i] && logs[i].checked);
  const x0 = ("x0" in pt) ? pt.x0 : D.x0, dx = ("dx" in pt) ? pt.dx : D.dx;
  const curves = [], msgs = [], allx = [];
  let legendRows = 1, lx = 0;
  p.series.forEach((s) => { if (!(s.name in pt.s)) return;
    const [x, y] = decode(pt.s[s.name], x0, dx); const [n, why, at] = events(x, y, p, log);
    x.forEach((v) => allx.push(v));  // the x axis spans every point of the curve, drawn or not
    const a = p.flow === "backward" ? y.length - n : 0;
    curves.push({s: s, x: x.slice(a, a + n), y: y.slice(a, a + n)});
    if (why) msgs.push(tpl(D.texts[why], {label: s.label, xname: p.xname, x: fmt(at), floor: fmt(p.floor || 0), ceil: fmt(p.ceil || 0)}));
    const w = 36 + 7.2 * s.label.length; if (lx + w > PW - 20 && lx > 0) { legendRows++; lx = 0; } lx += w; });
  if (!curves.some((c) => c.y.length)) msgs.push(D.texts.empty);
  // messages go under the x label, one or two lines each (split after the series' label), never over the curves
  const lines = [];
  msgs.forEach((m) => { const k = m.indexOf(": ");
    if (7 * m.length > PW - 20 && k > 0) { lines.push(m.slice(0, k + 1)); lines.push("  " + m.slice(k + 2)); }
    else lines.push(m); });
  const M = {l: 64, r: 12, t: 24, b: 50 + 16 * lines.length + 18 * legendRows};
  const iw = PW - M.l - M.r, ih = H - M.t - M.b;
  let xs = [], ys = [];
  curves.forEach((c) => { xs = xs.concat(c.x); ys = ys.concat(c.y); });
  let [xa, xb] = p.xlim || (allx.length ? [Math.min(...allx), Math.max(...allx)] : [0, 1]);
  if (xa === xb) { xa -= 1; xb += 1; }
  let ya, yb;
  if (p.ylim) [ya, yb] = log ? p.ylim.map(Math.log10) : p.ylim;
  else if (!ys.length) [ya, yb] = log ? [-1, 1] : [0, 1];
  else if (log) { ya = Math.floor(Math.log10(Math.min(...ys)) - 0.03);  // a whole decade at the bottom: always a tick
    yb = Math.log10(Math.max(...ys)) + 0.05;  // the top follows the data: no empty decade above it
    if (yb - ya < 1) { yb = ya + 1; } }
  else { ya = Math.min(...ys); yb = Math.max(...ys); if (p.yzero) ya = Math.min(0, ya);
    if (yb - ya < 1e-12 * Math.max(1, Math.abs(yb))) { const d = Math.abs(yb) * 0.1 || 1; ya -= d; yb += d; }
    else { const pad = 0.05 * (yb - ya); yb += pad; if (!(p.yzero && ya === 0)) ya -= pad; } }
  const sx = (v) => M.l + (v - xa) / (xb - xa) * iw;
  const sy = (v) => M.t + ih - ((log ? Math.log10(v) : v) - ya) / (yb - ya) * ih;
  el("text", {x: M.l + iw / 2, y: 16, "text-anchor": "middle", "font-size": 13, "font-weight": "bold"}, svg, p.title);
  if (p.image && D.images[p.image]) el("image", {href: "data:image/png;base64," + D.images[p.image], x: M.l, y: M.t,
    width: iw, height: ih, preserveAspectRatio: "none"}, svg);
  el("rect", {x: M.l, y: M.t, width: iw, height: ih, fill: "none", stroke: "#444"}, svg);
  niceTicks(xa, xb, Math.max(3, Math.floor(iw / 70))).forEach((t) => { const px = sx(t);
    el("line", {x1: px, x2: px, y1: M.t + ih, y2: M.t + ih + 4, stroke: "#444"}, svg);
    el("text", {x: px, y: M.t + ih + 17, "text-anchor": "middle", "font-size": 12}, svg, fmt(t)); });
  let yt;
  if (log) { const st = Math.max(1, Math.ceil((yb - ya) / 6)); yt = [];
    for (let e = Math.ceil(ya); e <= yb; e += st) { yt.push(Math.pow(10, e));
      if (yb - ya <= 2 && e < yb) yt.push(2 * Math.pow(10, e), 5 * Math.pow(10, e)); } }
  else yt = niceTicks(ya, yb, Math.max(3, Math.floor(ih / 45)));
  yt.forEach((t) => { const py = sy(t);
    el("line", {x1: M.l - 4, x2: M.l, y1: py, y2: py, stroke: "#444"}, svg);
    el("line", {x1: M.l, x2: M.l + iw, y1: py, y2: py, stroke: "#ddd", "stroke-width": 0.6}, svg);
    el("text", {x: M.l - 6, y: py + 4, "text-anchor": "end", "font-size": 12}, svg, fmt(t)); });
  el("text", {x: M.l + iw / 2, y: M.t + ih + 34, "text-anchor": "middle", "font-size": 12}, svg, p.xlabel);
  el("text", {x: 14, y: M.t + ih / 2, "text-anchor": "middle", "font-size": 12,
    transform: "rotate(-90 14 " + (M.t + ih / 2) + ")"}, svg, p.ylabel + (log && p.yscale === "toggle" ? " (log)" : ""));
  const g = el("g", {"class": "xpl-curves"}, svg);
  curves.forEach((c) => { if (!c.y.length) return;
    const pts = c.x.map((v, k) => sx(v).toFixed(1) + "," + sy(c.y[k]).toFixed(1));
    el("polyline", {points: pts.join(" "), fill: "none", stroke: c.s.color, "stroke-width": 1.8,
      "stroke-dasharray": c.s.dash, "data-series": c.s.name}, g);
    if (c.s.marker) pts.forEach((q) => { const [a, b] = q.split(",");
      el("circle", {cx: a, cy: b, r: 2.2, fill: c.s.color}, g); }); });
  let ly = H - 18 * legendRows + 4; lx = M.l;
  curves.forEach((c) => { const w = 36 + 7.2 * c.s.label.length;
    if (lx + w > PW && lx > M.l) { lx = M.l; ly += 18; }
    el("line", {x1: lx, x2: lx + 20, y1: ly, y2: ly, stroke: c.s.color, "stroke-width": 2, "stroke-dasharray": c.s.dash}, svg);
    el("text", {x: lx + 24, y: ly + 4, "font-size": 12}, svg, c.s.label); lx += w; });
  if (lines.length) { const mg = el("g", {"class": "xpl-msg"}, svg);
    lines.forEach((m, k) => el("text", {x: 8, y: M.t + ih + 52 + 16 * k, "font-size": 12, fill: "#b00020"}, mg, m)); }
}
function update(){
  const parts = [];
  D.controls.forEach((c) => { const on = active(c); inputs[c.name].disabled = !on;
    rows[c.name].forEach((e) => { e.style.display = on ? "" : "none"; });
    if (readouts[c.name]) readouts[c.name].textContent = on ? c.texts[+inputs[c.name].value] : "(not used)";
    if (c.kind === "slider") inputs[c.name].setAttribute("aria-valuetext",
      on ? c.texts[+inputs[c.name].value] + (c.unit ? " " + c.unit : "") : "not used");
    parts.push(on ? inputs[c.name].value : "-"); });
  const key = parts.join("|"), pt = D.points[key];
  root.dataset.key = key;
  const note = root.querySelector(".xpl-note");
  if (!pt) { note.textContent = "No precomputed data for this setting."; return; }
  D.panels.forEach((p, i) => drawPanel(svgs[i], p, i, pt));
  note.textContent = pt.note || "";
}
update();
}
