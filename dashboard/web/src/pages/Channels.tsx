// The account's channels, kept current, and the "New channel" form.

import { useState } from "preact/hooks";
import { Channel, ChannelStatus, LatencyMode, listAll } from "../api";
import { ChannelForm } from "../components/ChannelForm";
import { describe, usePolled } from "../live";
import { playbackBase, useThumbnailToken, withToken } from "../playback";
import { follow, navigate } from "../router";
import { api } from "../session";

export const STATUS: Record<ChannelStatus, string> = {
  idle: "idle",
  active: "live",
  stopped: "stopped",
};

export const LATENCY: Record<LatencyMode, string> = {
  ultra_low: "ultra low",
  low: "low",
  normal: "normal",
};

export function Channels() {
  const channels = usePolled(() => listAll<Channel>(api(), "/v1/channels"), 2000);
  const [creating, setCreating] = useState(false);

  return (
    <main>
      <div class="heading">
        <h1>Channels</h1>
        {!creating && (
          <button type="button" class="primary" onClick={() => setCreating(true)}>
            New channel
          </button>
        )}
      </div>
      {creating && (
        <ChannelForm
          done={(channel) => navigate(`/channels/${channel.id}`)}
          cancel={() => setCreating(false)}
        />
      )}
      {channels.error !== null && (
        <p class="form-error" role="alert">
          {describe(channels.error)}
        </p>
      )}
      {channels.value === null && channels.error === null && <p>Loading channels…</p>}
      {channels.value?.length === 0 && !creating && (
        <p class="empty">No channel yet. "New channel" makes one, with a stream key to push to.</p>
      )}
      {!!channels.value?.length && (
        <table class="channels">
          <thead>
            <tr>
              <th scope="col">
                <span class="visually-hidden">Thumbnail</span>
              </th>
              <th scope="col">Name</th>
              <th scope="col">Status</th>
              <th scope="col">Latency mode</th>
              <th scope="col">Viewers now</th>
            </tr>
          </thead>
          <tbody>
            {channels.value.map((channel) => (
              <ChannelRow key={channel.id} channel={channel} />
            ))}
          </tbody>
        </table>
      )}
    </main>
  );
}

function ChannelRow({ channel }: { channel: Channel }) {
  const path = `/channels/${channel.id}`;
  const live = channel.status === "active" && !!channel.current_session_id;
  const tenSeconds = Math.floor(Date.now() / 10000);
  const token = useThumbnailToken(channel, live, tenSeconds);
  return (
    <tr data-channel={channel.id}>
      <td class="thumb">
        {live && token !== null ? (
          // A new one every 10 s: the newest thumbnail, or another try while there is none.
          <Thumbnail
            key={tenSeconds}
            src={withToken(thumbnail(channel, tenSeconds), token)}
            name={channel.name}
          />
        ) : null}
      </td>
      <td>
        <a href={path} onClick={(e) => follow(e, path)}>
          {channel.name}
        </a>
      </td>
      <td>
        <span class={`status status-${channel.status}`}>{STATUS[channel.status]}</span>
      </td>
      <td>{LATENCY[channel.latency_mode]}</td>
      <td class="viewers">{channel.viewers}</td>
    </tr>
  );
}

/**
 * Where the live session's newest thumbnail is: beside the channel's playlist, which playback
 * answers (on a scaled-out deployment, not the origin the dashboard came from).
 */
function thumbnail(channel: Channel, version: number): string {
  return `${playbackBase(channel)}/thumbs/${channel.current_session_id}/latest.jpg?t=${version}`;
}

/** An image, or nothing while there is none. */
function Thumbnail({ src, name }: { src: string; name: string }) {
  const [missing, setMissing] = useState(false);
  if (missing) return null;
  return (
    <img
      src={src}
      alt={`Now on ${name}`}
      width={96}
      height={54}
      onError={() => setMissing(true)}
    />
  );
}
