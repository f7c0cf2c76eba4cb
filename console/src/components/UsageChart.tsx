// Images (or credits) per UTC day, stacked by model: a hand-drawn SVG bar chart. The same numbers
// are in the table below it, for screen readers and for copying.
import { useEffect, useRef, useState } from 'react';
import type { Usage } from '../api';

/** The width the chart has, so it is drawn at 1:1 (text stays the same size on any screen). */
function useWidth<T extends HTMLElement>(fallback: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => {
      if (entry) setWidth(Math.max(240, Math.floor(entry.contentRect.width)));
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

const COLORS = ['#3b6fd8', '#e0793a', '#2f9e6e', '#b94fb5', '#c9a227', '#d24d57', '#4aa3b5', '#7a7a7a'];

export function modelColors(models: string[]): Map<string, string> {
  return new Map([...models].sort().map((m, i) => [m, COLORS[i % COLORS.length]!]));
}

function days(start: string, end: string): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); t <= Date.parse(`${end}T00:00:00Z`); t += 86_400_000) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v) ?? 10 * p;
}

export function UsageChart({ usage, metric }: { usage: Usage; metric: 'images' | 'credits' }) {
  const [box, W] = useWidth<HTMLElement>(720);
  const dates = days(usage.start_date, usage.end_date);
  const models = [...new Set(usage.data.map((r) => r.model))];
  const colors = modelColors(models);
  const byDay = new Map<string, Array<{ model: string; value: number }>>();
  for (const r of usage.data) {
    const list = byDay.get(r.date) ?? [];
    list.push({ model: r.model, value: r[metric] });
    byDay.set(r.date, list);
  }
  const totals = dates.map((d) => (byDay.get(d) ?? []).reduce((a, r) => a + r.value, 0));
  const max = niceMax(Math.max(0, ...totals));

  const H = 220;
  const pad = { left: 40, right: 8, top: 10, bottom: 28 };
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const slot = plotW / dates.length;
  const barW = Math.max(2, Math.min(28, slot * 0.7));
  const y = (v: number) => pad.top + plotH - (v / max) * plotH;
  // Whole numbers only for images; a middle line when it falls on one.
  const ticks = metric === 'images' && max % 2 !== 0 ? [0, max] : [0, max / 2, max];
  const labelEvery = Math.ceil(dates.length / Math.max(2, Math.floor(plotW / 64)));

  return (
    <figure className="chart" ref={box}>
      <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${metric === 'images' ? 'Images' : 'Credits'} per day by model, ${usage.start_date} to ${usage.end_date}`}>
        {ticks.map((t) => (
          <g key={t}>
            <line x1={pad.left} x2={W - pad.right} y1={y(t)} y2={y(t)} className="grid" />
            <text x={pad.left - 6} y={y(t) + 4} textAnchor="end" className="axis">
              {Number.isInteger(t) ? t : t.toFixed(1)}
            </text>
          </g>
        ))}
        {dates.map((d, i) => {
          const x = pad.left + i * slot + (slot - barW) / 2;
          let base = 0;
          return (
            <g key={d}>
              {(byDay.get(d) ?? [])
                .filter((r) => r.value > 0)
                .sort((a, b) => a.model.localeCompare(b.model))
                .map((r) => {
                  const top = y(base + r.value);
                  const h = y(base) - top;
                  base += r.value;
                  return (
                    <rect key={r.model} x={x} y={top} width={barW} height={Math.max(1, h)} fill={colors.get(r.model)}>
                      <title>{`${d} · ${r.model}: ${r.value} ${metric}`}</title>
                    </rect>
                  );
                })}
              {(dates.length - 1 - i) % labelEvery === 0 && (
                <text x={x + barW / 2} y={H - 8} textAnchor="middle" className="axis">
                  {d.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="legend">
        {models.length === 0 ? (
          <span className="muted">No usage in this period.</span>
        ) : (
          [...colors].map(([m, c]) => (
            <span key={m}>
              <span className="swatch" style={{ background: c }} aria-hidden="true" /> {m}
            </span>
          ))
        )}
      </figcaption>
    </figure>
  );
}
