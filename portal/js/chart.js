// A line chart of aggregate buckets, drawn on a canvas.

export function drawChart(canvas, buckets, { unit = "" } = {}) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width, height = canvas.clientHeight || canvas.height;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const points = buckets.filter((b) => typeof b.value === "number").map((b) => ({ t: Date.parse(b.start), v: b.value }));
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#66707a";
  if (points.length === 0) {
    g.fillText("No data in this range", 10, height / 2);
    return 0;
  }
  const pad = { left: 42, right: 8, top: 8, bottom: 20 };
  const t0 = Date.parse(buckets[0].start), t1 = Date.parse(buckets[buckets.length - 1].start) || t0 + 1;
  let lo = Math.min(...points.map((p) => p.v)), hi = Math.max(...points.map((p) => p.v));
  if (lo === hi) { lo -= 1; hi += 1; }
  const x = (t) => pad.left + (t - t0) / Math.max(1, t1 - t0) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v - lo) / (hi - lo) * (height - pad.top - pad.bottom);
  g.strokeStyle = "#d6dbe0";
  g.beginPath();
  for (const v of [lo, (lo + hi) / 2, hi]) {
    g.moveTo(pad.left, y(v)); g.lineTo(width - pad.right, y(v));
    g.fillText(`${Math.round(v * 10) / 10}${unit}`, 2, y(v) + 4);
  }
  g.stroke();
  g.fillText(new Date(t0).toLocaleString([], { hour: "2-digit", minute: "2-digit", day: "numeric", month: "short" }), pad.left, height - 4);
  g.strokeStyle = "#1565c0";
  g.lineWidth = 2;
  g.beginPath();
  points.forEach((p, i) => (i ? g.lineTo(x(p.t), y(p.v)) : g.moveTo(x(p.t), y(p.v))));
  g.stroke();
  return points.length;
}
