// The DVR scrub bar under a live player: where in the window the picture is, dragged (or moved
// with the arrow keys) to go back, a button back to the live edge, and the storyboard's
// thumbnail of the moment under the pointer.

import { RefObject } from "preact";
import { useEffect, useState } from "preact/hooks";
import { parseStoryboard, Tile, tileAt } from "../storyboard";

/** The window the element may seek in, and where it is. */
interface Span {
  start: number;
  end: number;
  at: number;
}

/** How often the storyboard is read again: it grows by a thumbnail every few seconds; sooner
 * while it has none (the session has just started). */
const STORYBOARD_MS = 10000;
const EMPTY_STORYBOARD_MS = 2000;

export function Scrubber({
  video,
  storyboard,
  toLive,
}: {
  video: RefObject<HTMLVideoElement>;
  /** The session's storyboard URL (with its token), if it has thumbnails. */
  storyboard?: string;
  toLive: () => void;
}) {
  const [span, setSpan] = useState<Span | null>(null);
  const [tiles, setTiles] = useState<Tile[]>([]);
  /** Where the pointer is over the bar: pixels from its left, and the fraction of its width. */
  const [pointer, setPointer] = useState<{ x: number; fraction: number } | null>(null);

  useEffect(() => {
    const timer = setInterval(() => {
      const element = video.current;
      const seekable = element?.seekable;
      if (element && seekable?.length) {
        const [start, end] = [seekable.start(0), seekable.end(seekable.length - 1)];
        setSpan({ start, end, at: element.currentTime });
      }
    }, 500);
    return () => clearInterval(timer);
  }, [video]);

  useEffect(() => {
    if (!storyboard) return;
    const url = storyboard;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    async function load() {
      let read: Tile[] = [];
      try {
        const answer = await fetch(url, { cache: "no-store" });
        if (answer.ok) read = parseStoryboard(await answer.text(), url);
      } catch {
        // Tried again below.
      }
      if (stopped) return;
      setTiles(read);
      timer = setTimeout(load, read.length ? STORYBOARD_MS : EMPTY_STORYBOARD_MS);
    }
    load();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [storyboard]);

  if (!span || span.end - span.start < 1) return null;
  const { start, end, at } = span;
  const length = end - start;

  function point(event: PointerEvent) {
    const box = (event.currentTarget as HTMLElement).getBoundingClientRect();
    const fraction = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    setPointer({ x: event.clientX - box.left, fraction });
  }
  // The storyboard's times count from the window's start, as the playlist's do.
  const tile = pointer && tileAt(tiles, pointer.fraction * length);

  return (
    <div class="scrubber">
      <div class="track" onPointerMove={point} onPointerLeave={() => setPointer(null)}>
        <input
          type="range"
          aria-label="Position in the stream"
          min={0}
          max={length}
          step={0.5}
          value={at - start}
          aria-valuetext={`${Math.max(0, end - at).toFixed(0)} s behind the live edge`}
          onInput={(event) => {
            const element = video.current;
            if (element) element.currentTime = start + Number(event.currentTarget.value);
          }}
        />
        {pointer && tile && (
          <div
            class="storyboard-tile"
            data-testid="storyboard-tile"
            style={{
              left: `${pointer.x}px`,
              width: `${tile.width}px`,
              height: `${tile.height}px`,
              backgroundImage: `url("${tile.image}")`,
              backgroundPosition: `-${tile.x}px -${tile.y}px`,
            }}
          />
        )}
      </div>
      <button type="button" onClick={toLive}>
        Live
      </button>
    </div>
  );
}
