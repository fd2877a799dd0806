// The player page, /embed/{channel_id}: made to be framed by any site, with no dashboard
// around it. Playback serves it and it talks to playback alone (no API token): it asks the
// channel's `status.json` what to play, again every few seconds. Live plays while the channel
// is live (low-latency for `ultra_low`); otherwise the newest session's last picture stands as
// the poster, or, with `?catchup=1`, that session's catch-up plays once it has ended. A signed
// channel needs `?token=` (a `video` playback token), passed on to every playback request.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Player } from "./components/Player";
import { withToken } from "./playback";
import "./embed.css";

/** What playback's `/live/{channel_id}/status.json` says. */
interface Status {
  live: boolean;
  latency_mode: "ultra_low" | "low" | "normal";
  session_id: string | null;
  poster: string | null;
  catchup: string | null;
}

/** How often the page asks again, for a channel going live or a session ending; and after a
 * refusal (no such channel, no or a wrong token), which only a new token would change. */
const POLL_MS = 5000;
const REFUSED_POLL_MS = 60000;
/** How long a live player may go on after its session ended before it gives way (it should
 * play to its end and say so first; a paused or failed one would not). */
const ENDED_GRACE_MS = 20000;
/** How long a failed live player waits before it starts again. */
const RETRY_MS = 3000;

/** The channel id in the path, if it is one. */
const channel = /^\/embed\/([A-Za-z0-9_-]+)$/.exec(location.pathname)?.[1] ?? "";
const query = new URLSearchParams(location.search);
const token = query.get("token") ?? "";
const wantsCatchup = query.get("catchup") === "1";

/** The channel's status, or why there is none. */
function useStatus(): { status: Status | null; problem: string } {
  const [status, setStatus] = useState<Status | null>(null);
  const [problem, setProblem] = useState("");
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    async function ask() {
      let next = POLL_MS;
      // A hidden page asks nothing (a frame scrolled away, a tab in the background).
      if (document.visibilityState !== "hidden") {
        try {
          const url = `/live/${channel}/status.json`;
          const answer = await fetch(withToken(url, token), { cache: "no-store" });
          if (answer.ok) {
            setStatus(await answer.json());
            setProblem("");
          } else {
            setProblem(refusal(answer.status));
            if ([401, 403, 404].includes(answer.status)) next = REFUSED_POLL_MS;
          }
        } catch {
          setProblem("Playback cannot be reached; trying again.");
        }
      }
      if (!stopped) timer = setTimeout(ask, next);
    }
    if (!channel) {
      setProblem(refusal(404));
      return;
    }
    ask();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  return { status, problem };
}

function refusal(status: number): string {
  if (status === 401) return "This channel needs a playback token.";
  if (status === 403) return "This playback token does not open this channel.";
  if (status === 404) return "No such channel.";
  return "Playback is unavailable; trying again.";
}

function Embed() {
  const { status, problem } = useStatus();
  // The live session being played, kept until its stream has played to its end (the status
  // says "not live" a moment before the player has shown the last picture).
  const [playing, setPlaying] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  const live = status?.live ? status.session_id : null;
  useEffect(() => {
    if (live && live !== playing) setPlaying(live);
  }, [live]);
  // The status says the played session is over, and the player has not said so yet.
  useEffect(() => {
    if (!playing || live === playing) return;
    const timer = setTimeout(() => setPlaying(null), ENDED_GRACE_MS);
    return () => clearTimeout(timer);
  }, [playing, live]);

  if (playing && status) {
    return (
      <Player
        key={`${playing}:${attempt}`}
        url={withToken(`/live/${channel}/index.m3u8`, token)}
        lowLatency={status.latency_mode === "ultra_low"}
        live={false}
        label="Live"
        onEnded={() => setPlaying(null)}
        onFailed={() => setTimeout(() => setAttempt((n) => n + 1), RETRY_MS)}
      />
    );
  }
  if (wantsCatchup && status?.catchup) {
    return (
      <Player
        key={status.catchup}
        url={withToken(status.catchup, token)}
        lowLatency={false}
        live={false}
        label="Catch-up"
      />
    );
  }
  return <Poster status={status} problem={problem} />;
}

/** The channel is not live: its newest session's last picture, if it has one, and why. */
function Poster({ status, problem }: { status: Status | null; problem: string }) {
  const [pictured, setPictured] = useState(true);
  const poster = status?.poster;
  useEffect(() => setPictured(true), [poster]);
  const said = problem || (status ? "This channel is offline." : "Loading…");
  return (
    <div class="poster">
      {poster && pictured && (
        <img
          src={withToken(poster, token)}
          alt="The channel's last picture"
          onError={() => setPictured(false)}
        />
      )}
      <p role="status" data-testid="embed-status">
        {said}
      </p>
    </div>
  );
}

render(<Embed />, document.getElementById("app")!);
