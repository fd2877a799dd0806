// Playback access for the account's signed channels: mint a playback token (what it opens and
// for how long), and manage the playback keys an integrator's own server signs tokens with —
// create one (its private half is shown once), see them, delete one (every token it signed
// stops working). API tokens are minted with the admin key, on the account picker.

import { useState } from "preact/hooks";
import { Channel, listAll } from "../api";
import { Copy } from "../components/Copy";
import { Lifetime, MintedToken, SHORTEST } from "../components/Minted";
import { describe, usePolled } from "../live";
import { api } from "../session";

interface PlaybackKey {
  id: string;
  public_key: string;
  created_at: string;
}

interface NewPlaybackKey extends PlaybackKey {
  private_key: string;
}

export function Tokens() {
  return (
    <main>
      <h1>Tokens and keys</h1>
      <PlaybackToken />
      <PlaybackKeys />
    </main>
  );
}

/** Mints a playback token for one of the account's channels. */
function PlaybackToken() {
  const channels = usePolled(() => listAll<Channel>(api(), "/v1/channels"), 30000);
  const [channel, setChannel] = useState("");
  const [audience, setAudience] = useState("video");
  const [ttl, setTtl] = useState(SHORTEST);
  const [minted, setMinted] = useState<{ token: string; expires_at: string } | null>(null);
  const [error, setError] = useState("");
  const chosen = channel || channels.value?.[0]?.id || "";

  async function mint(event: Event) {
    event.preventDefault();
    setError("");
    try {
      setMinted(
        await api().post(`/v1/channels/${chosen}/playback-tokens`, { audience, ttl_seconds: ttl }),
      );
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <form class="card" onSubmit={mint}>
      <h2>Playback token</h2>
      <p class="hint">
        A signed channel plays only with a token (<code>?token=</code> on its first playback URL).
      </p>
      {channels.value?.length === 0 ? (
        <p>No channel yet.</p>
      ) : (
        <>
          <div class="field">
            <label for="token-channel">Channel</label>
            <select
              id="token-channel"
              value={chosen}
              onChange={(e) => setChannel(e.currentTarget.value)}
            >
              {channels.value?.map((c) => (
                <option key={c.id} value={c.id}>
                  {c.name} ({c.playback_policy})
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="token-audience">Opens</label>
            <select
              id="token-audience"
              value={audience}
              onChange={(e) => setAudience(e.currentTarget.value)}
            >
              <option value="video">Video (playlists and media)</option>
              <option value="thumbnails">Thumbnails and storyboards</option>
              <option value="recordings">Recordings</option>
            </select>
          </div>
          <Lifetime id="token-ttl" seconds={ttl} choose={setTtl} />
          <button type="submit" class="primary" disabled={!chosen}>
            Mint playback token
          </button>
        </>
      )}
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {minted && <MintedToken minted={minted} what="playback token" testId="playback-token" />}
    </form>
  );
}

/** The account's playback keys. */
function PlaybackKeys() {
  const keys = usePolled(() => listAll<PlaybackKey>(api(), "/v1/playback-keys"), 30000);
  const [created, setCreated] = useState<NewPlaybackKey | null>(null);
  const [error, setError] = useState("");

  async function run(action: () => Promise<void>) {
    setError("");
    try {
      await action();
      keys.set(await listAll<PlaybackKey>(api(), "/v1/playback-keys"));
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <section class="card" aria-labelledby="keys-heading">
      <h2 id="keys-heading">Playback keys</h2>
      <p class="hint">
        Your own server signs playback tokens with a key's private half (EdDSA, <code>kid</code>{" "}
        the key's id); deleting the key revokes every token it signed.
      </p>
      {keys.value?.length === 0 && <p>No playback key.</p>}
      {!!keys.value?.length && (
        <ul class="keys">
          {keys.value.map((key) => (
            <li key={key.id}>
              <code>{key.id}</code>
              <span class="hint"> since {new Date(key.created_at).toLocaleString()}</span>
              <button
                type="button"
                class="danger"
                aria-label={`Delete playback key ${key.id}`}
                onClick={() =>
                  confirm("Delete this key? Every token it signed stops working.") &&
                  run(() => api().delete(`/v1/playback-keys/${key.id}`))
                }
              >
                Delete
              </button>
            </li>
          ))}
        </ul>
      )}
      <button
        type="button"
        onClick={() =>
          run(async () => setCreated(await api().post<NewPlaybackKey>("/v1/playback-keys")))
        }
      >
        New playback key
      </button>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
      {created && (
        <div>
          <p>
            The private half of <code>{created.id}</code>, shown only now:
          </p>
          <pre data-testid="private-key">{created.private_key}</pre>
          <Copy text={created.private_key} label="Copy private key" />
        </div>
      )}
    </section>
  );
}
