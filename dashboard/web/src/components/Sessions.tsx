// A channel's broadcasts: the one on air now (its state and open alerts, as they happen), and
// every session with its thumbnail, catch-up player and recording.

import { useState } from "preact/hooks";
import { Alert, Channel, listAll, Session } from "../api";
import { describe, usePolled } from "../live";
import { PlaybackTokens, withToken } from "../playback";
import { api } from "../session";
import { Audience } from "./Audience";
import { Player } from "./Player";

const STATE: Record<Session["status"], string> = {
  init: "starting",
  processing: "preparing",
  live: "live",
  error: "failed",
  ended: "ended",
};

const time = (at: string | null) => (at ? new Date(at).toLocaleString() : "—");

/** The session on air: its state and its open alerts, polled every 2 s. */
export function CurrentSession({ channel }: { channel: Channel }) {
  const id = channel.current_session_id;
  const session = usePolled(
    () => (id ? api().get<Session>(`/v1/sessions/${id}`) : Promise.resolve(null)),
    2000,
    [id],
  );
  const alerts = usePolled(
    () =>
      api()
        .get<{ data: Alert[] }>(`/v1/alerts?channel_id=${channel.id}&state=open`)
        .then((page) => page.data),
    2000,
    [channel.id],
  );
  const s = session.value;
  return (
    <section class="card" aria-labelledby="now">
      <h2 id="now">Now</h2>
      {!s ? (
        <p>No session: push to the server with the stream key to start one.</p>
      ) : (
        <dl class="facts" data-testid="current-session">
          <dt>Session</dt>
          <dd data-testid="session-state">{STATE[s.status]}</dd>
          <dt>Encoder</dt>
          <dd>{s.publisher_connected ? "connected" : "gone (waiting for it to come back)"}</dd>
          <dt>Backup encoder</dt>
          <dd>
            {s.backup_connected ? "connected" : "none"}; on air: {s.on_air_input}
            {s.failover_count > 0 && `, ${s.failover_count} failovers`}
          </dd>
          <dt>Started</dt>
          <dd>{time(s.started_at)}</dd>
        </dl>
      )}
      <h3>Alerts</h3>
      {alerts.error !== null && <p class="form-error">{describe(alerts.error)}</p>}
      {alerts.value?.length ? (
        <ul class="alerts" aria-live="polite">
          {alerts.value.map((alert) => (
            <li key={alert.id}>
              <strong>{alert.code}</strong>: {alert.message} (since {time(alert.raised_at)})
            </li>
          ))}
        </ul>
      ) : (
        <p aria-live="polite">No open alert.</p>
      )}
    </section>
  );
}

/** Every session of the channel, newest first. */
export function SessionList({ channel, tokens }: { channel: Channel; tokens: PlaybackTokens }) {
  const sessions = usePolled(
    () => listAll<Session>(api(), `/v1/channels/${channel.id}/sessions`).then((all) => all.reverse()),
    5000,
    [channel.id],
  );
  const [watching, setWatching] = useState<string | null>(null);
  const [counting, setCounting] = useState<string | null>(null);
  return (
    <section class="card" aria-labelledby="sessions">
      <h2 id="sessions">Sessions</h2>
      {sessions.error !== null && <p class="form-error">{describe(sessions.error)}</p>}
      {sessions.value?.length === 0 && <p>None yet.</p>}
      <ul class="sessions">
        {sessions.value?.map((session) => (
          <li key={session.id} data-session={session.id}>
            <img
              src={withToken(session.thumbnail_url, tokens.thumbnails)}
              alt=""
              width={96}
              height={54}
              loading="lazy"
              onError={(e) => (e.currentTarget.style.visibility = "hidden")}
            />
            <div>
              <p>
                <strong>{time(session.started_at)}</strong> · {STATE[session.status]}
                {session.end_reason && ` (${session.end_reason.replace(/_/g, " ")})`}
              </p>
              <div class="actions">
                {session.catchup_url && (
                  <button
                    type="button"
                    onClick={() => setWatching(watching === session.id ? null : session.id)}
                  >
                    {watching === session.id ? "Close" : "Watch"}
                  </button>
                )}
                <button
                  type="button"
                  aria-expanded={counting === session.id}
                  onClick={() => setCounting(counting === session.id ? null : session.id)}
                >
                  Audience
                </button>
                {session.recording_url && (
                  <a href={withToken(session.recording_url, tokens.recordings)} download>
                    Download recording
                    {session.recording_bytes !== null &&
                      ` (${(session.recording_bytes / 1e6).toFixed(1)} MB)`}
                  </a>
                )}
              </div>
              {watching === session.id && session.catchup_url && (
                <Player
                  url={withToken(session.catchup_url, tokens.video)}
                  lowLatency={false}
                  live={false}
                  label="Catch-up player"
                />
              )}
              {counting === session.id && (
                <Audience of={`sessions/${session.id}`} title="This session's audience" />
              )}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}
