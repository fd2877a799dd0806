// A session's storyboard (WebVTT, as playback serves it): one cue per thumbnail, from where it
// lies in the live playlist's timeline to where the next one does, naming its tile in a sprite
// sheet (`sprite-{n}.jpg?token=…#xywh=x,y,w,h`).

export interface Tile {
  start: number;
  end: number;
  /** The sprite sheet, resolved against the storyboard's URL. */
  image: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

const CUE = /^(\d+):(\d{2}):(\d{2}\.\d{3}) --> (\d+):(\d{2}):(\d{2}\.\d{3})$/;
const TILE = /^(.+)#xywh=(\d+),(\d+),(\d+),(\d+)$/;

/** The tiles of `text`, fetched from `url`; cues that do not read are skipped. */
export function parseStoryboard(text: string, url: string): Tile[] {
  const lines = text.split(/\r?\n/);
  const tiles: Tile[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    const cue = CUE.exec(lines[i].trim());
    const tile = cue && TILE.exec(lines[i + 1].trim());
    if (!cue || !tile) continue;
    const seconds = (h: string, m: string, s: string) =>
      Number(h) * 3600 + Number(m) * 60 + Number(s);
    tiles.push({
      start: seconds(cue[1], cue[2], cue[3]),
      end: seconds(cue[4], cue[5], cue[6]),
      image: new URL(tile[1], url).toString(),
      x: Number(tile[2]),
      y: Number(tile[3]),
      width: Number(tile[4]),
      height: Number(tile[5]),
    });
  }
  return tiles;
}

/** The tile shown at `seconds` into the timeline, if any (past the end: the newest). */
export function tileAt(tiles: Tile[], seconds: number): Tile | undefined {
  const found = tiles.find((tile) => tile.start <= seconds && seconds < tile.end);
  const newest = tiles[tiles.length - 1];
  return found ?? (newest && seconds >= newest.end ? newest : undefined);
}
