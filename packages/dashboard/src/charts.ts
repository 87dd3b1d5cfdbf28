import { svg } from './dom.js';

export interface Bar {
  label: string;
  value: number;
}

/** A labelled SVG bar chart (no library): bars scaled to the largest value. */
export function barChart(title: string, bars: Bar[], unit = ''): SVGElement {
  const width = 640;
  const height = 220;
  const left = 48;
  const bottom = 40;
  const max = Math.max(1, ...bars.map((b) => b.value));
  const step = (width - left - 10) / Math.max(1, bars.length);
  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': title, width: '100%', class: 'chart' }, svg('title', {}, title));
  chart.appendChild(svg('line', { x1: left, y1: height - bottom, x2: width, y2: height - bottom, stroke: '#9aa3b2' }));
  chart.appendChild(svg('text', { x: 4, y: 14 }, `${Math.round(max)}${unit}`));
  bars.forEach((bar, i) => {
    const h = ((height - bottom - 20) * bar.value) / max;
    const x = left + i * step + step * 0.15;
    chart.appendChild(svg('rect', { x, y: height - bottom - h, width: step * 0.7, height: Math.max(0, h), fill: '#2454d6', rx: 2 }, svg('title', {}, `${bar.label}: ${bar.value}${unit}`)));
    chart.appendChild(svg('text', { x: x + step * 0.35, y: height - bottom + 14, 'text-anchor': 'middle' }, bar.label));
  });
  return chart;
}

/** Prometheus text → { metric name → samples with labels }. */
export function parsePrometheus(text: string): Map<string, { labels: Record<string, string>; value: number }[]> {
  const out = new Map<string, { labels: Record<string, string>; value: number }[]>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    const list = out.get(m[1]) ?? [];
    list.push({ labels, value: Number(m[4]) });
    out.set(m[1], list);
  }
  return out;
}

/** Requests per latency band from a cumulative histogram (all routes summed). */
export function latencyBands(metrics: ReturnType<typeof parsePrometheus>, name: string): Bar[] {
  const cumulative = new Map<string, number>();
  for (const s of metrics.get(`${name}_bucket`) ?? []) cumulative.set(s.labels.le, (cumulative.get(s.labels.le) ?? 0) + s.value);
  const les = [...cumulative.keys()].sort((a, b) => (a === '+Inf' ? 1 : b === '+Inf' ? -1 : Number(a) - Number(b)));
  let previous = 0;
  return les.map((le) => {
    const total = cumulative.get(le)!;
    const bar = { label: le === '+Inf' ? '>' : `≤${Number(le) * 1000 >= 1000 ? `${Number(le)}s` : `${Number(le) * 1000}ms`}`, value: total - previous };
    previous = total;
    return bar;
  });
}
