// The loss-surface explorer's page script (course_utils.explorer.static_explorer_html inlines it after
// explorable.js, whose courseSvgEl and courseFmt it draws with, so a page needs no other file). It draws the
// chosen optimizer's path over the chosen surface's contour image from the embedded JSON of
// course_utils.explorer.precompute: one quantised path (a byte pair per step, 255 outside the window) per
// setting, where it crosses the window's edge, and its end point.
// Called as courseSurfaceExplorer(root, W, H): root is the explorer's <div>, W x H the SVG's size in CSS pixels.
// Checked by `node --check` (tests/test_explorable.py), in node (tests/test_surfaces.py) and in Chromium
// (tests/test_explorables_browser.py).
/* exported courseSurfaceExplorer */
/* global courseSvgEl, courseFmt */
function courseSurfaceExplorer(root, W, H) {
const D = JSON.parse(root.querySelector("script[type='application/json']").textContent);
const M = {l: 46, r: 10, t: 10, b: 38};
const $ = (s) => root.querySelector(s);
const el = courseSvgEl, fmt = (v) => courseFmt(v, 2);
const surfSel = $(".ex-surface"), optSel = $(".ex-opt"), startSel = $(".ex-start");
const lr = $(".ex-lr"), b1 = $(".ex-b1"), b2 = $(".ex-b2");
D.surfaces.forEach((s, i) => surfSel.add(new Option(s.title, i)));
Object.keys(D.optimizers).forEach((o) => optSel.add(new Option(o, o)));
const svg = $("svg");
function toDefaultLr(){  // each optimizer starts from its own rate on this surface, where one is given
  const d = (D.surfaces[+surfSel.value].default_lr || {})[optSel.value];
  if (d !== undefined) lr.value = d;
}
function setupSurface(){
  const s = D.surfaces[+surfSel.value];
  lr.max = s.lrs.length - 1; b1.max = s.beta1s.length - 1; b2.max = s.beta2s.length - 1;
  if (+lr.value > +lr.max) lr.value = lr.max;
  toDefaultLr();
  startSel.innerHTML = "";
  s.starts.forEach((p, i) => startSel.add(new Option("(" + p[0] + ", " + p[1] + ")", i)));
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  el("image", {href: "data:image/png;base64," + s.image, x: M.l, y: M.t, width: W - M.l - M.r,
               height: H - M.t - M.b, preserveAspectRatio: "none"}, svg);
  el("rect", {x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b, fill: "none", stroke: "#444"}, svg);
  for (let i = 0; i <= 4; i++) {
    const fx = i / 4, xv = s.xlim[0] + fx * (s.xlim[1] - s.xlim[0]), yv = s.ylim[0] + fx * (s.ylim[1] - s.ylim[0]);
    const px = M.l + fx * (W - M.l - M.r), py = H - M.b - fx * (H - M.t - M.b);
    el("line", {x1: px, x2: px, y1: H - M.b, y2: H - M.b + 4, stroke: "#444"}, svg);
    el("text", {x: px, y: H - M.b + 15, "text-anchor": "middle", "font-size": 11}, svg).textContent = fmt(xv);
    el("line", {x1: M.l - 4, x2: M.l, y1: py, y2: py, stroke: "#444"}, svg);
    el("text", {x: M.l - 6, y: py + 4, "text-anchor": "end", "font-size": 11}, svg).textContent = fmt(yv);
  }
  el("text", {x: (W + M.l - M.r) / 2, y: H - 4, "text-anchor": "middle", "font-size": 12}, svg).textContent = "w\u2081";
  el("text", {x: 12, y: (H - M.b + M.t) / 2, "text-anchor": "middle", "font-size": 12,
              transform: "rotate(-90 12 " + (H - M.b + M.t) / 2 + ")"}, svg).textContent = "w\u2082";
  root.pathLayer = el("g", {}, svg);
  draw();
}
function draw(){
  const s = D.surfaces[+surfSel.value], opt = optSel.value, uses = D.optimizers[opt];
  b1.disabled = !uses.includes("beta1"); b2.disabled = !uses.includes("beta2");
  $(".ex-lr-v").textContent = fmt(s.lrs[+lr.value]);
  $(".ex-b1-v").textContent = b1.disabled ? "(not used)" : s.beta1s[+b1.value];
  $(".ex-b2-v").textContent = b2.disabled ? "(not used)" : s.beta2s[+b2.value];
  [[lr, ".ex-lr-v"], [b1, ".ex-b1-v"], [b2, ".ex-b2-v"]].forEach(([e, v]) =>
    e.setAttribute("aria-valuetext", e.disabled ? "not used" : $(v).textContent));
  const key = [opt, lr.value, b1.disabled ? 0 : b1.value, b2.disabled ? 0 : b2.value, startSel.value].join("|");
  const bytes = atob(s.paths[key]), g = root.pathLayer;
  while (g.firstChild) g.removeChild(g.firstChild);
  const sx = (q) => M.l + q / 254 * (W - M.l - M.r), sy = (q) => H - M.b - q / 254 * (H - M.t - M.b);
  const pts = [];  // one entry per step: [x, y] in pixels, or null outside the window
  for (let i = 0; i < bytes.length; i += 2) {
    const qx = bytes.charCodeAt(i), qy = bytes.charCodeAt(i + 1);
    pts.push(qx === 255 ? null : [sx(qx), sy(qy)]);
  }
  const edge = {};  // segment index -> where it enters / leaves the window, in pixels
  const cr = (s.crossings && s.crossings[key]) ? atob(s.crossings[key]) : "";
  for (let i = 0; i < cr.length; i += 5) {
    const seg = cr.charCodeAt(i) * 256 + cr.charCodeAt(i + 1);
    (edge[seg] = edge[seg] || {})[cr.charCodeAt(i + 2) ? "exit" : "entry"] = [sx(cr.charCodeAt(i + 3)), sy(cr.charCodeAt(i + 4))];
  }
  // pieces of the path inside the window: steps joined, cut at the window's edge where the path leaves
  const pieces = [], exits = [];
  let cur = [];
  for (let i = 0; i + 1 < pts.length; i++) {
    const a = pts[i], b = pts[i + 1], e = edge[i] || {};
    if (a && !cur.length) cur.push(a);
    if (a && b) { cur.push(b); continue; }
    if (a && e.exit) { cur.push(e.exit); exits.push([a, e.exit]); }
    if (cur.length > 1) pieces.push(cur);
    cur = [];
    if (!a && e.entry) {
      cur = [e.entry];
      if (b) cur.push(b);
      else if (e.exit) { cur.push(e.exit); exits.push([e.entry, e.exit]); pieces.push(cur); cur = []; }
    }
  }
  if (cur.length > 1) pieces.push(cur);
  const P = (p) => p[0].toFixed(1) + "," + p[1].toFixed(1);
  pieces.forEach((pc) => el("polyline", {points: pc.map(P).join(" "), fill: "none", stroke: "#e41a1c", "stroke-width": 1.6}, g));
  pts.forEach((p) => { if (p) el("circle", {cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 1.8, fill: "#fff", stroke: "#e41a1c", "stroke-width": 0.8}, g); });
  exits.forEach(([from, to]) => {  // an arrowhead on the edge, pointing the way the path left
    const dx = to[0] - from[0], dy = to[1] - from[1], n = Math.hypot(dx, dy) || 1, ux = dx / n, uy = dy / n;
    const tri = [[to[0], to[1]], [to[0] - 11 * ux + 5 * uy, to[1] - 11 * uy - 5 * ux], [to[0] - 11 * ux - 5 * uy, to[1] - 11 * uy + 5 * ux]];
    el("polygon", {points: tri.map(P).join(" "), fill: "#e41a1c", stroke: "#000", "stroke-width": 0.8, class: "ex-exit"}, g);
  });
  const st = s.starts[+startSel.value];
  el("rect", {x: sx((st[0] - s.xlim[0]) / (s.xlim[1] - s.xlim[0]) * 254) - 4, y: sy((st[1] - s.ylim[0]) / (s.ylim[1] - s.ylim[0]) * 254) - 4,
              width: 8, height: 8, fill: "#fff", stroke: "#000", "stroke-width": 1.2, class: "ex-start-mark"}, g);  // white: no viridis colour
  const last = pts[pts.length - 1];
  if (last) {  // the end: a star over everything else
    const star = [];
    for (let k = 0; k < 10; k++) { const r = k % 2 ? 3.2 : 8, t = -Math.PI / 2 + k * Math.PI / 5; star.push([last[0] + r * Math.cos(t), last[1] + r * Math.sin(t)]); }
    el("polygon", {points: star.map(P).join(" "), fill: "#e41a1c", stroke: "#000", "stroke-width": 0.8, class: "ex-end"}, g);
  }
  const f = s.final[key], left = exits.length ? " after leaving the window (arrowhead)" : "";
  $(".ex-out").textContent = (f[0] === null || f[2] === null)
    ? "after " + s.steps + " steps: the run diverged (non-finite weights)" + left + "."
    : "after " + s.steps + " steps: w = (" + fmt(f[0]) + ", " + fmt(f[1]) + "), loss = " + fmt(f[2])
      + (last ? " (the star)" : " (outside the window; the arrowhead marks where the path leaves it)");
}
surfSel.onchange = setupSurface;
optSel.onchange = () => { toDefaultLr(); draw(); };
startSel.onchange = draw;
[lr, b1, b2].forEach((e) => e.oninput = draw);
lr.max = D.surfaces[0].lrs.length - 1; lr.value = lr.max; optSel.value = "Momentum (EMA)"; setupSurface();
}
