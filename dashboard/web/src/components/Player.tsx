// A player for a live or caught-up stream: hls.js (loaded only when a page plays something, so
// the channel list stays small), low-latency mode for `ultra_low`, and a readout of how far
// behind live the picture is, from the playlist's EXT-X-PROGRAM-DATE-TIME.

import type Hls from "hls.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { Scrubber } from "./Scrubber";

export function Player({
  url,
  lowLatency,
  live,
  label,
  onEnded,
  onFailed,
  dvr,
}: {
  url: string;
  lowLatency: boolean;
  /** Show how far behind live the picture is. */
  live: boolean;
  label: string;
  /** Called when the stream played to its end (a live one: its session ended). */
  onEnded?: () => void;
  /** Called when the player gave up (a fatal error). */
  onFailed?: () => void;
  /** A live stream with a DVR window: a scrub bar, with this storyboard's thumbnails. */
  dvr?: { storyboard?: string };
}) {
  const video = useRef<HTMLVideoElement>(null);
  const player = useRef<Hls>();
  const [behind, setBehind] = useState<number | null>(null);
  const [failure, setFailure] = useState("");

  useEffect(() => {
    let hls: Hls | undefined;
    let stopped = false;
    let timer: ReturnType<typeof setInterval> | undefined;
    setFailure("");
    setBehind(null);
    import("hls.js").then(({ default: Hls }) => {
      const element = video.current;
      if (stopped || !element) return;
      if (!Hls.isSupported()) {
        // Safari plays HLS itself.
        element.src = url;
        return;
      }
      hls = new Hls({ lowLatencyMode: lowLatency });
      player.current = hls;
      hls.on(Hls.Events.ERROR, (_, data) => {
        if (data.fatal) {
          setFailure(`${data.type}: ${data.details}`);
          onFailed?.();
        }
      });
      hls.loadSource(url);
      hls.attachMedia(element);
      if (live) {
        timer = setInterval(() => {
          const shown = hls?.playingDate;
          if (shown) setBehind((Date.now() - shown.getTime()) / 1000);
        }, 500);
      }
    });
    return () => {
      stopped = true;
      clearInterval(timer);
      hls?.destroy();
    };
  }, [url, lowLatency, live]);

  return (
    <div class="player">
      <video
        ref={video}
        muted
        autoPlay
        playsInline
        controls
        aria-label={label}
        onEnded={onEnded}
      />
      {dvr && (
        <Scrubber
          video={video}
          storyboard={dvr.storyboard}
          toLive={() => {
            const edge = player.current?.liveSyncPosition;
            if (video.current && edge) video.current.currentTime = edge;
          }}
        />
      )}
      {live && (
        <p class="behind" data-testid="behind-live">
          {behind === null ? "Starting…" : `${behind.toFixed(1)} s behind live`}
        </p>
      )}
      {failure && (
        <p class="form-error" role="alert">
          Playback failed: {failure}
        </p>
      )}
    </div>
  );
}
