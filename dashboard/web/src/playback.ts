// Playback tokens for a `signed` channel's pages: one per audience (video, thumbnails,
// recordings), minted for an hour when the page opens. A public channel needs none.

import { useEffect, useState } from "preact/hooks";
import { Channel } from "./api";
import { api } from "./session";

export interface PlaybackTokens {
  video: string;
  thumbnails: string;
  recordings: string;
}

const NONE: PlaybackTokens = { video: "", thumbnails: "", recordings: "" };

export function usePlaybackTokens(channel: Channel | null): PlaybackTokens | null {
  const [tokens, setTokens] = useState<PlaybackTokens | null>(null);
  const signed = channel?.playback_policy === "signed";
  const id = channel?.id;
  useEffect(() => {
    if (!id) return;
    if (!signed) {
      setTokens(NONE);
      return;
    }
    const mint = (audience: keyof PlaybackTokens) =>
      api()
        .post<{ token: string }>(`/v1/channels/${id}/playback-tokens`, { audience, ttl_seconds: 3600 })
        .then((minted) => minted.token);
    Promise.all([mint("video"), mint("thumbnails"), mint("recordings")]).then(
      ([video, thumbnails, recordings]) => setTokens({ video, thumbnails, recordings }),
      () => setTokens(NONE),
    );
  }, [id, signed]);
  return tokens;
}

/** Where playback answers for `channel` (on a scaled-out deployment, not where the dashboard
 * came from): its playlist's URL without the `/live/…` part. */
export function playbackBase(channel: Channel): string {
  return channel.playback_url.replace(/\/live\/[^/]+\/index\.m3u8$/, "");
}

/** `url` opened with `token`, if there is one. */
export function withToken(url: string, token: string): string {
  if (!token) return url;
  const opened = new URL(url, location.href);
  opened.searchParams.set("token", token);
  return opened.toString();
}
