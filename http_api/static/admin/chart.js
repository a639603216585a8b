// A line chart drawn as inline SVG, so the console loads nothing from outside the API.
"use strict";

function lineChart(title, labels, values) {
  const width = 320, height = 160, pad = 28;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("class", "chart");
  const max = Math.max(1, ...values);
  const step = labels.length > 1 ? (width - 2 * pad) / (labels.length - 1) : 0;
  const point = (value, index) =>
    [pad + index * step, height - pad - (value / max) * (height - 2 * pad)];

  const add = (name, attrs, text) => {
    const node = document.createElementNS(ns, name);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (text !== undefined) node.textContent = text;
    svg.appendChild(node);
    return node;
  };
  add("text", { x: pad, y: 14 }, title);
  add("text", { x: 2, y: pad + 4 }, String(max));
  add("text", { x: 2, y: height - pad }, "0");
  add("line", { x1: pad, y1: height - pad, x2: width - pad, y2: height - pad, stroke: "#999" });
  if (labels.length) {
    add("text", { x: pad, y: height - 8 }, labels[0]);
    add("text", { x: width - pad - 60, y: height - 8 }, labels[labels.length - 1]);
  }
  const points = values.map((value, index) => point(value, index).join(",")).join(" ");
  add("polyline", { points, fill: "none", stroke: "#2f6fde", "stroke-width": 2 });
  values.forEach((value, index) => {
    const [x, y] = point(value, index);
    add("circle", { cx: x, cy: y, r: 2.5, fill: "#2f6fde" });
  });
  return svg;
}
