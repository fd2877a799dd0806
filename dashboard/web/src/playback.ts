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

/** Thumbnail tokens for signed channels' rows in the list: one per channel, minted when its
 * row first shows a picture, minted again a minute before it expires. */
const pictureTokens = new Map<string, { token: Promise<string>; until: number }>();
const PICTURE_TOKEN_SECONDS = 3600;

function pictureToken(channel: string): Promise<string> {
  const held = pictureTokens.get(channel);
  if (held && held.until > Date.now()) return held.token;
  const token = api()
    .post<{ token: string }>(`/v1/channels/${channel}/playback-tokens`, {
      audience: "thumbnails",
      ttl_seconds: PICTURE_TOKEN_SECONDS,
    })
    .then((minted) => minted.token);
  token.catch(() => pictureTokens.delete(channel));
  pictureTokens.set(channel, { token, until: Date.now() + (PICTURE_TOKEN_SECONDS - 60) * 1000 });
  return token;
}

/**
 * A token that opens `channel`'s thumbnails while `wanted`: "" for a public channel, null
 * until a signed channel's is minted. Asked again every `version` (the row's picture period).
 */
export function useThumbnailToken(channel: Channel, wanted: boolean, version: number) {
  const signed = channel.playback_policy === "signed";
  const [token, setToken] = useState<string | null>(null);
  useEffect(() => {
    if (!signed || !wanted) return;
    let stopped = false;
    pictureToken(channel.id).then(
      (minted) => !stopped && setToken(minted),
      () => undefined,
    );
    return () => {
      stopped = true;
    };
  }, [channel.id, signed, wanted, version]);
  return signed ? token : "";
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
