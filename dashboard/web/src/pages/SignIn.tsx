// Sign in with an account's API token, or with the admin key: then pick or create an account,
// and the dashboard mints a token for it (the admin key itself is never stored).

import { useEffect, useState } from "preact/hooks";
import { Account, Api, ApiError, listAll, Minted } from "../api";
import { Lifetime, MintedToken, SHORTEST } from "../components/Minted";
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
      {!!accounts?.length && <ApiTokens admin={admin} accounts={accounts} />}
    </main>
  );
}

const SCOPES: [string, string][] = [
  ["channels:read", "read channels, sessions, alerts, analytics and history; mint playback tokens"],
  ["channels:write", "create, change, stop and delete channels; see stream keys; manage playback keys"],
  ["webhooks:read", "read subscriptions and their delivery logs"],
  ["webhooks:write", "create, re-key and delete subscriptions; redeliver"],
];

/** API tokens for an integrator's server (the admin key mints them): scopes and lifetime
 * chosen here, the token shown once; and revoking every token of an account. */
function ApiTokens({ admin, accounts }: { admin: Api; accounts: Account[] }) {
  const [account, setAccount] = useState(accounts[0].id);
  const [scopes, setScopes] = useState<string[]>(SCOPES.map(([scope]) => scope));
  const [ttl, setTtl] = useState(SHORTEST);
  const [minted, setMinted] = useState<Minted | null>(null);
  const [said, setSaid] = useState("");

  async function mint(event: Event) {
    event.preventDefault();
    setSaid("");
    try {
      setMinted(
        await admin.post<Minted>("/v1/tokens", { account_id: account, scopes, ttl_seconds: ttl }),
      );
    } catch (failure) {
      setSaid(describe(failure));
    }
  }

  async function revoke() {
    if (!confirm("Revoke every token of this account minted so far?")) return;
    setMinted(null);
    try {
      await admin.delete(`/v1/accounts/${account}/tokens`);
      setSaid("Every token of this account minted so far is revoked.");
    } catch (failure) {
      setSaid(describe(failure));
    }
  }

  const toggle = (scope: string) =>
    setScopes(scopes.includes(scope) ? scopes.filter((s) => s !== scope) : [...scopes, scope]);
  return (
    <form class="card" onSubmit={mint}>
      <h2>API tokens</h2>
      <div class="field">
        <label for="token-account">Account</label>
        <select
          id="token-account"
          value={account}
          onChange={(e) => setAccount(e.currentTarget.value)}
        >
          {accounts.map((a) => (
            <option key={a.id} value={a.id}>
              {a.name}
            </option>
          ))}
        </select>
      </div>
      <fieldset class="field">
        <legend>Scopes</legend>
        {SCOPES.map(([scope, what]) => (
          <div class="field check" key={scope}>
            <input
              type="checkbox"
              id={`scope-${scope}`}
              checked={scopes.includes(scope)}
              onChange={() => toggle(scope)}
            />
            <label for={`scope-${scope}`}>
              <code>{scope}</code>: {what}
            </label>
          </div>
        ))}
      </fieldset>
      <Lifetime id="api-token-ttl" seconds={ttl} choose={setTtl} />
      <div class="actions">
        <button type="submit" class="primary" disabled={!scopes.length}>
          Mint API token
        </button>
        <button type="button" class="danger" onClick={revoke}>
          Revoke all of this account's tokens
        </button>
      </div>
      {said && <p role="status">{said}</p>}
      {minted && <MintedToken minted={minted} what="API token" testId="api-token" />}
    </form>
  );
}
