// A channel's event history as a timeline, newest first: everything the channel and its
// sessions went through (created, changed, live, failed over, ended, alerts, recordings…),
// read once and then followed (`?after=` the last sequence number seen).

import { useEffect, useState } from "preact/hooks";
import { describe } from "../live";
import { api } from "../session";

interface ChannelEvent {
  id: string;
  type: string;
  sequence: number;
  occurred_at: string;
  session_id: string | null;
  data: Record<string, unknown>;
}

/** How many events the timeline shows, the newest. */
const SHOWN = 200;
const PAGE = 1000;

export function Timeline({ channel }: { channel: string }) {
  const [events, setEvents] = useState<ChannelEvent[]>([]);
  const [error, setError] = useState("");

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = 0;
    let kept: ChannelEvent[] = [];
    async function follow() {
      try {
        for (;;) {
          const page = await api().get<{ data: ChannelEvent[] }>(
            `/v1/channels/${channel}/events?limit=${PAGE}&after=${last}`,
          );
          if (stopped) return;
          if (page.data.length) {
            last = page.data[page.data.length - 1].sequence;
            kept = [...kept, ...page.data].slice(-SHOWN);
            setEvents(kept);
          }
          if (page.data.length < PAGE) break;
        }
        setError("");
      } catch (failure) {
        if (!stopped) setError(describe(failure));
      }
      if (!stopped) timer = setTimeout(follow, 5000);
    }
    follow();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [channel]);

  return (
    <section class="card" aria-labelledby="timeline">
      <h2 id="timeline">History</h2>
      {error && <p class="form-error">{error}</p>}
      {/* It scrolls: focusable, so a keyboard can scroll it too. */}
      <ol class="timeline" reversed tabIndex={0} aria-labelledby="timeline">
        {[...events].reverse().map((event) => (
          <li key={event.id} data-type={event.type}>
            <time dateTime={event.occurred_at}>
              {new Date(event.occurred_at).toLocaleString()}
            </time>{" "}
            <code>{event.type}</code>
            {summary(event) && <span class="hint"> {summary(event)}</span>}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** The one detail of an event worth a glance, where it has one. */
function summary(event: ChannelEvent): string {
  const data = event.data;
  for (const key of ["reason", "code", "message", "name", "input"]) {
    const value = data[key];
    if (typeof value === "string") return `${key}: ${value.replace(/_/g, " ")}`;
  }
  return "";
}
