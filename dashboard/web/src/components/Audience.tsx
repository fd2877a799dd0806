// Audience figures from the analytics API: concurrent viewers over time as a chart, the peak,
// views and watch time, over a range the reader picks; kept current while the page is open.
// The chart is a plain SVG line (no chart library to download) with a text summary for
// screen readers.

import { useState } from "preact/hooks";
import { usePolled } from "../live";
import { api } from "../session";

/** `GET /v1/channels/{id}/analytics` or `/v1/sessions/{id}/analytics`. */
interface Figures {
  from: string;
  to: string;
  step_seconds: number;
  ccu: { at: string; ccu: number }[];
  peak_ccu: number;
  peak_at: string | null;
  views: number;
  watch_time_seconds: number;
}

/** A range to look back over, and the step that gives it about a hundred points. */
interface Range {
  label: string;
  seconds: number;
  step: number;
}

const RANGES: Range[] = [
  { label: "Last 15 minutes", seconds: 900, step: 10 },
  { label: "Last hour", seconds: 3600, step: 30 },
  { label: "Last 24 hours", seconds: 86400, step: 900 },
  { label: "Last 7 days", seconds: 7 * 86400, step: 3600 },
];

/** The whole session, as the API gives it by default (for a session's figures only). */
const WHOLE = "whole";

/**
 * The figures of `of` (`channels/{id}` or `sessions/{id}`); a session's default to its whole
 * length, a channel's to the last 15 minutes.
 */
export function Audience({ of, title }: { of: string; title: string }) {
  const session = of.startsWith("sessions/");
  const [range, setRange] = useState(session ? WHOLE : RANGES[0].label);
  const figures = usePolled(
    () => api().get<Figures>(`/v1/${of}/analytics${query(range)}`),
    10000,
    [of, range],
  );
  const id = `audience-${of.replace("/", "-")}`;
  const f = figures.value;
  return (
    <section class="audience" aria-labelledby={id}>
      <div class="heading">
        <h3 id={id}>{title}</h3>
        <label>
          <span class="visually-hidden">Range</span>
          <select value={range} onChange={(e) => setRange(e.currentTarget.value)}>
            {session && <option value={WHOLE}>Whole session</option>}
            {RANGES.map((r) => (
              <option key={r.label} value={r.label}>
                {r.label}
              </option>
            ))}
          </select>
        </label>
      </div>
      {figures.error !== null && <p class="form-error">Figures unavailable.</p>}
      {f && (
        <>
          <dl class="figures">
            <div>
              <dt>Peak viewers</dt>
              <dd data-testid="peak-ccu">{f.peak_ccu}</dd>
            </div>
            <div>
              <dt>Views</dt>
              <dd data-testid="views">{f.views}</dd>
            </div>
            <div>
              <dt>Watch time</dt>
              <dd>{duration(f.watch_time_seconds)}</dd>
            </div>
          </dl>
          <CcuChart figures={f} />
        </>
      )}
    </section>
  );
}

function query(range: string): string {
  const picked = RANGES.find((r) => r.label === range);
  if (!picked) return "";
  const to = new Date();
  const from = new Date(to.getTime() - picked.seconds * 1000);
  const at = (date: Date) => encodeURIComponent(date.toISOString());
  return `?from=${at(from)}&to=${at(to)}&step=${picked.step}`;
}

/** `3725` → `1 h 2 min 5 s`. */
function duration(seconds: number): string {
  const whole = Math.round(seconds);
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  return [h && `${h} h`, (h || m) && `${m} min`, `${s} s`].filter(Boolean).join(" ");
}

const WIDTH = 600;
const HEIGHT = 120;

/** Concurrent viewers as a step line over the range, its highest value marked on the side. */
function CcuChart({ figures }: { figures: Figures }) {
  const points = figures.ccu;
  const top = Math.max(1, ...points.map((point) => point.ccu));
  const start = Date.parse(figures.from);
  const span = Math.max(1, Date.parse(figures.to) - start);
  const x = (at: string) => ((Date.parse(at) - start) / span) * WIDTH;
  const y = (ccu: number) => HEIGHT - (ccu / top) * (HEIGHT - 4);
  const step = (figures.step_seconds * 1000 * WIDTH) / span;
  // Each point holds for its step: a flat segment from its start to the next one's.
  const line = points
    .map((point) => {
      const [from, level] = [x(point.at), y(point.ccu).toFixed(1)];
      return `${from.toFixed(1)},${level} ${(from + step).toFixed(1)},${level}`;
    })
    .join(" ");
  const summary =
    figures.peak_at === null
      ? "No viewers in this range."
      : `At most ${figures.peak_ccu} concurrent viewers, ` +
        `first at ${new Date(figures.peak_at).toLocaleTimeString()}.`;
  const time = (at: string) =>
    new Date(at).toLocaleString(undefined, {
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
    });
  return (
    <figure class="chart">
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`Concurrent viewers. ${summary}`}
        data-top={top}
      >
        <line x1="0" y1={HEIGHT} x2={WIDTH} y2={HEIGHT} class="axis" />
        {points.length > 0 && <polyline points={line} class="ccu" />}
      </svg>
      <figcaption>
        <span>{time(figures.from)}</span>
        <span>Concurrent viewers (top of the chart: {top})</span>
        <span>{time(figures.to)}</span>
      </figcaption>
    </figure>
  );
}
