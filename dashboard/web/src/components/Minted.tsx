// What minting a token takes and gives, on the Tokens page and on the admin's account picker:
// how long it lasts, and the token, shown once, with a Copy button.

import { Copy } from "./Copy";

/** How long a token lasts, as offered (within both the API's and playback's limits). */
const LIFETIMES: [number, string][] = [
  [3600, "1 hour"],
  [86400, "1 day"],
  [7 * 86400, "7 days"],
  [30 * 86400, "30 days"],
];

export const SHORTEST = LIFETIMES[0][0];

/** A "Valid for" choice, in seconds. */
export function Lifetime({
  id,
  seconds,
  choose,
}: {
  id: string;
  seconds: number;
  choose: (seconds: number) => void;
}) {
  return (
    <div class="field">
      <label for={id}>Valid for</label>
      <select id={id} value={seconds} onChange={(e) => choose(Number(e.currentTarget.value))}>
        {LIFETIMES.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A token just minted: it is not shown again. */
export function MintedToken({
  minted,
  what,
  testId,
}: {
  minted: { token: string; expires_at: string };
  /** "API token", "playback token". */
  what: string;
  testId: string;
}) {
  return (
    <p>
      <code data-testid={testId}>{minted.token}</code>
      <Copy text={minted.token} label={`Copy ${what}`} />
      <span class="hint"> Valid until {new Date(minted.expires_at).toLocaleString()}.</span>
    </p>
  );
}
