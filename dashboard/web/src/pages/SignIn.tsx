// Sign in with an account's API token, or with the admin key: then pick or create an account,
// and the dashboard mints a token for it (the admin key itself is never stored).

import { useEffect, useState } from "preact/hooks";
import { Account, Api, ApiError, listAll, Minted } from "../api";
import { describe } from "../live";
import { signIn } from "../session";

/** How long a token the dashboard mints lasts: a working day. */
const MINTED_TTL_SECONDS = 12 * 3600;

/** An account's token is a JWT (three dot-separated parts); anything else is taken for the admin key. */
const looksLikeToken = (secret: string) => /^[\w-]+\.[\w-]+\.[\w-]+$/.test(secret);

export function SignIn({ signedIn }: { signedIn: () => void }) {
  const [secret, setSecret] = useState("");
  const [error, setError] = useState("");
  const [admin, setAdmin] = useState<Api | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const given = secret.trim();
    if (!given) {
      setError("Paste an API token or the admin key.");
      return;
    }
    setBusy(true);
    setError("");
    const candidate = new Api(given);
    try {
      if (looksLikeToken(given)) {
        await candidate.get("/v1/channels?limit=1");
        signIn({ token: given });
        signedIn();
      } else {
        await candidate.get("/v1/accounts?limit=1");
        setAdmin(candidate);
      }
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? `Not signed in: ${failure.message}.`
          : `Cannot sign in: ${describe(failure)}`,
      );
    } finally {
      setBusy(false);
    }
  }

  if (admin) return <AccountPicker admin={admin} signedIn={signedIn} />;
  return (
    <main class="narrow">
      <h1>Sigma Live</h1>
      <form class="card" onSubmit={submit}>
        <h2>Sign in</h2>
        <div class="field">
          <label for="secret">API token</label>
          <input
            id="secret"
            type="password"
            autoComplete="off"
            spellcheck={false}
            value={secret}
            onInput={(e) => setSecret(e.currentTarget.value)}
            aria-describedby="secret-hint"
          />
          <p class="hint" id="secret-hint">
            An account's token, or the admin key (printed by <code>make run</code>) to pick or
            create an account.
          </p>
        </div>
        {error && (
          <p class="form-error" role="alert">
            {error}
          </p>
        )}
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Sign in
          </button>
        </div>
      </form>
    </main>
  );
}

function AccountPicker({ admin, signedIn }: { admin: Api; signedIn: () => void }) {
  const [accounts, setAccounts] = useState<Account[] | null>(null);
  const [name, setName] = useState("");
  const [error, setError] = useState("");

  useEffect(() => {
    listAll<Account>(admin, "/v1/accounts").then(setAccounts, (failure) =>
      setError(describe(failure)),
    );
  }, [admin]);

  async function choose(account: Account) {
    try {
      const minted = await admin.post<Minted>("/v1/tokens", {
        account_id: account.id,
        ttl_seconds: MINTED_TTL_SECONDS,
      });
      signIn({ token: minted.token, account: account.name });
      signedIn();
    } catch (failure) {
      setError(describe(failure));
    }
  }

  async function create(event: Event) {
    event.preventDefault();
    try {
      await choose(await admin.post<Account>("/v1/accounts", { name: name.trim() }));
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <main class="narrow">
      <h1>Sigma Live</h1>
      <section class="card">
        <h2>Choose an account</h2>
        {accounts === null && !error && <p>Loading accounts…</p>}
        {accounts?.length === 0 && <p>No account yet: create the first one below.</p>}
        <ul class="accounts">
          {accounts?.map((account) => (
            <li key={account.id}>
              <span>{account.name}</span>
              <button type="button" onClick={() => choose(account)}>
                Use {account.name}
              </button>
            </li>
          ))}
        </ul>
      </section>
      <form class="card" onSubmit={create}>
        <h2>New account</h2>
        <div class="field">
          <label for="account-name">Account name</label>
          <input id="account-name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </div>
        <div class="actions">
          <button type="submit" class="primary">
            Create account
          </button>
        </div>
      </form>
      {error && (
        <p class="form-error" role="alert">
          {error}
        </p>
      )}
    </main>
  );
}
