// One channel: where to push (server and key, each with a Copy button), OBS settings at a
// glance, the owner's actions, and its settings.

import { useState } from "preact/hooks";
import { ApiError, Channel as ChannelView, LatencyMode } from "../api";
import { ChannelForm } from "../components/ChannelForm";
import { Audience } from "../components/Audience";
import { Copy } from "../components/Copy";
import { Player } from "../components/Player";
import { CurrentSession, SessionList } from "../components/Sessions";
import { Timeline } from "../components/Timeline";
import { describe, usePolled } from "../live";
import { playbackBase, usePlaybackTokens, withToken } from "../playback";
import { follow, navigate } from "../router";
import { api } from "../session";
import { LATENCY, STATUS } from "./Channels";

/** What to set in OBS for each mode: keyframes often enough for the mode's segments or parts. */
const OBS: Record<LatencyMode, { keyframes: string; bitrate: string }> = {
  ultra_low: { keyframes: "1 s", bitrate: "2,500–4,500 kbit/s (720p–1080p)" },
  low: { keyframes: "1 s", bitrate: "3,000–6,000 kbit/s (720p–1080p)" },
  normal: { keyframes: "2 s", bitrate: "3,000–6,000 kbit/s (720p–1080p)" },
};

export function Channel({ id }: { id: string }) {
  const channel = usePolled(() => api().get<ChannelView>(`/v1/channels/${id}`), 2000, [id]);
  const [editing, setEditing] = useState(false);
  const [shown, setShown] = useState(false);
  const [error, setError] = useState("");
  const tokens = usePlaybackTokens(channel.value);

  /** An owner action: a POST that answers the channel as it now is. */
  const owner = (action: "stop" | "resume" | "stream-key") => () =>
    api().post<ChannelView>(`/v1/channels/${id}/${action}`);

  async function act(what: string, run: () => Promise<ChannelView | void>) {
    if (!confirm(what)) return;
    setError("");
    try {
      const answer = await run();
      if (answer) channel.set(answer);
      else navigate("/");
    } catch (failure) {
      setError(describe(failure));
    }
  }

  if (channel.value === null) {
    const gone = channel.error instanceof ApiError && channel.error.status === 404;
    return (
      <main>
        <BackLink />
        {gone ? (
          <h1>No such channel</h1>
        ) : (
          <p role="status">{channel.error === null ? "Loading…" : describe(channel.error)}</p>
        )}
      </main>
    );
  }
  const c = channel.value;
  const key = c.stream_key ?? "";
  // `rtmp_url` is the server URL and the key; OBS wants them apart.
  const server =
    key && c.rtmp_url?.endsWith(`/${key}`) ? c.rtmp_url.slice(0, -key.length - 1) : "";
  const obs = OBS[c.latency_mode];
  return (
    <main>
      <BackLink />
      <div class="heading">
        <h1>{c.name}</h1>
        <span class={`status status-${c.status}`}>{STATUS[c.status]}</span>
      </div>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {c.status === "active" && c.current_session_id && tokens && (
        <section class="card" aria-labelledby="preview">
          <h2 id="preview">Live preview</h2>
          <Player
            url={withToken(c.playback_url, tokens.video)}
            lowLatency={c.latency_mode === "ultra_low"}
            live
            label="Live preview"
            dvr={
              c.dvr_window_seconds > 0
                ? {
                    storyboard: withToken(
                      `${playbackBase(c)}/thumbs/${c.current_session_id}/storyboard.vtt`,
                      tokens.thumbnails,
                    ),
                  }
                : undefined
            }
          />
        </section>
      )}
      <CurrentSession channel={c} />
      <section class="card" aria-labelledby="push">
        <h2 id="push">Go live</h2>
        {key ? (
          <dl class="push">
            <dt>Server</dt>
            <dd>
              <code data-testid="server">{server}</code>
              <Copy text={server} label="Copy server URL" />
            </dd>
            <dt>Stream key</dt>
            <dd>
              <code data-testid="stream-key">{shown ? key : "•".repeat(16)}</code>
              <button type="button" aria-pressed={shown} onClick={() => setShown(!shown)}>
                {shown ? "Hide" : "Show"}
              </button>
              <Copy text={key} label="Copy stream key" />
            </dd>
            <dt>Keyframe interval</dt>
            <dd>{obs.keyframes}</dd>
            <dt>Bitrate</dt>
            <dd>{obs.bitrate}</dd>
          </dl>
        ) : (
          <p>This token may not see the stream key (it lacks the channels:write scope).</p>
        )}
        <p class="hint">
          In OBS: Settings → Stream → Service "Custom…", paste the server and the stream key; in
          Output, set the keyframe interval. Latency mode: {LATENCY[c.latency_mode]}.
        </p>
      </section>
      <EmbedSnippet channel={c} />
      <section class="card" aria-labelledby="manage">
        <h2 id="manage">Manage</h2>
        <div class="actions">
          {c.status === "stopped" ? (
            <button type="button" onClick={() => act("Resume this channel?", owner("resume"))}>
              Resume
            </button>
          ) : (
            <button
              type="button"
              onClick={() =>
                act("Stop this channel? A live session ends and publishing is refused.", owner("stop"))
              }
            >
              Stop
            </button>
          )}
          <button
            type="button"
            onClick={() =>
              act("Rotate the stream key? Encoders using the old key are refused.", owner("stream-key"))
            }
          >
            Rotate key
          </button>
          <button type="button" onClick={() => setEditing(!editing)}>
            Edit settings
          </button>
          <button
            type="button"
            class="danger"
            onClick={() =>
              act(`Delete "${c.name}"? This cannot be undone.`, () =>
                api().delete(`/v1/channels/${id}`),
              )
            }
          >
            Delete
          </button>
        </div>
      </section>
      {editing && (
        <ChannelForm
          channel={c}
          done={(saved) => {
            channel.set(saved);
            setEditing(false);
          }}
          cancel={() => setEditing(false)}
        />
      )}
      <section class="card">
        <Audience of={`channels/${c.id}`} title="Audience" />
      </section>
      {tokens && <SessionList channel={c} tokens={tokens} />}
      <Timeline channel={c.id} />
    </main>
  );
}

/** Escaped for an HTML attribute: the snippet goes into the owner's own site. */
function attribute(text: string): string {
  const entities: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  return text.replace(/[&<>"']/g, (char) => entities[char]);
}

/** The player page's iframe, to paste into a site: served by playback, like the stream. */
function EmbedSnippet({ channel }: { channel: ChannelView }) {
  const base = playbackBase(channel);
  const signed = channel.playback_policy === "signed";
  const src = `${base}/embed/${channel.id}${signed ? "?token=PLAYBACK_TOKEN" : ""}`;
  const snippet =
    `<iframe src="${attribute(src)}" title="${attribute(channel.name)}" width="640" height="360" ` +
    `style="border:0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen></iframe>`;
  return (
    <section class="card" aria-labelledby="embed">
      <h2 id="embed">Embed</h2>
      <p>
        <code class="snippet" data-testid="embed-snippet">
          {snippet}
        </code>
        <Copy text={snippet} label="Copy embed code" />
      </p>
      <p class="hint">
        The player shows the live stream, and the last picture while the channel is offline; with{" "}
        <code>catchup=1</code> in its query it plays the last session's catch-up instead.
        {signed &&
          " This channel is signed: replace PLAYBACK_TOKEN with a video playback token your " +
            "server mints (POST /v1/channels/{id}/playback-tokens)."}
      </p>
    </section>
  );
}

function BackLink() {
  return (
    <p>
      <a href="/" onClick={(e) => follow(e, "/")}>
        ← Channels
      </a>
    </p>
  );
}
