// The account's webhook subscriptions: create one (its signing secret is shown once), rotate
// its secret, delete it; and each one's delivery log, kept current, with every attempt and a
// Redeliver button.

import { useRef, useState } from "preact/hooks";
import { ApiError, Delivery, KeyedWebhook, listAll, Webhook } from "../api";
import { Copy } from "../components/Copy";
import { describe, usePolled } from "../live";
import { follow, navigate } from "../router";
import { api } from "../session";

export function Webhooks({ selected }: { selected: string | null }) {
  const hooks = usePolled(() => listAll<Webhook>(api(), "/v1/webhooks"), 5000);
  const [keyed, setKeyed] = useState<KeyedWebhook | null>(null);
  const [error, setError] = useState("");

  async function act(what: string, run: () => Promise<KeyedWebhook | void>) {
    if (!confirm(what)) return;
    setError("");
    try {
      const answer = await run();
      if (answer) setKeyed(answer);
      hooks.set(await listAll<Webhook>(api(), "/v1/webhooks"));
    } catch (failure) {
      setError(describe(failure));
    }
  }

  return (
    <main>
      <div class="heading">
        <h1>Webhooks</h1>
      </div>
      <p class="hint">
        Each channel event (a session going live or ending, a recording ready, …) is sent as a
        signed <code>POST</code> to every subscription that wants its type, in order, retried
        until it is delivered.
      </p>
      <NewWebhook
        created={(hook) => {
          setKeyed(hook);
          hooks.set([...(hooks.value ?? []), hook]);
        }}
      />
      {keyed && <Secret hook={keyed} />}
      {(error || hooks.error !== null) && (
        <p class="form-error" role="alert">
          {error || describe(hooks.error)}
        </p>
      )}
      {hooks.value?.length === 0 && <p class="empty">No subscription yet.</p>}
      {!!hooks.value?.length && (
        <ul class="hooks">
          {hooks.value.map((hook) => (
            <li key={hook.id} class="card">
              <p>
                <code>{hook.url}</code>
              </p>
              <p class="hint">
                {hook.event_types.length ? hook.event_types.join(", ") : "Every event type"} ·
                since {new Date(hook.created_at).toLocaleString()}
              </p>
              <div class="actions">
                <a
                  href={`/webhooks/${hook.id}`}
                  aria-current={selected === hook.id ? "page" : undefined}
                  onClick={(e) => follow(e, `/webhooks/${hook.id}`)}
                >
                  Deliveries
                </a>
                <button
                  type="button"
                  onClick={() =>
                    act(
                      "Rotate the signing secret? The old one keeps signing for a while.",
                      () => api().post<KeyedWebhook>(`/v1/webhooks/${hook.id}/secret`),
                    )
                  }
                >
                  Rotate secret
                </button>
                <button
                  type="button"
                  class="danger"
                  onClick={() =>
                    act(`Delete the subscription to ${hook.url}?`, async () => {
                      await api().delete(`/v1/webhooks/${hook.id}`);
                      if (selected === hook.id) navigate("/webhooks");
                    })
                  }
                >
                  Delete
                </button>
              </div>
              {selected === hook.id && <Deliveries hook={hook} />}
            </li>
          ))}
        </ul>
      )}
    </main>
  );
}

/** The subscription form: an endpoint and, optionally, the event types it wants. */
function NewWebhook({ created }: { created: (hook: KeyedWebhook) => void }) {
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("");
  const [error, setError] = useState<ApiError | string | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setError(null);
    const event_types = types
      .split(/[\s,]+/)
      .map((type) => type.trim())
      .filter(Boolean);
    try {
      created(await api().post<KeyedWebhook>("/v1/webhooks", { url: url.trim(), event_types }));
      setUrl("");
      setTypes("");
    } catch (failure) {
      setError(failure instanceof ApiError ? failure : describe(failure));
    }
  }

  const fieldError = (field: string) =>
    error instanceof ApiError && error.field === field ? error.message : "";
  const general = typeof error === "string" ? error : error && !error.field ? error.message : "";
  return (
    <form class="card" onSubmit={submit}>
      <h2>New subscription</h2>
      <div class="field">
        <label for="hook-url">Endpoint URL</label>
        <input
          id="hook-url"
          type="url"
          required
          value={url}
          placeholder="https://example.com/hooks/sigma"
          aria-invalid={fieldError("url") ? "true" : undefined}
          aria-describedby={fieldError("url") ? "hook-url-error" : undefined}
          onInput={(e) => setUrl(e.currentTarget.value)}
        />
        {fieldError("url") && (
          <p id="hook-url-error" class="field-error">
            {fieldError("url")}
          </p>
        )}
      </div>
      <div class="field">
        <label for="hook-types">Event types</label>
        <input
          id="hook-types"
          value={types}
          placeholder="session.live, session.ended"
          aria-describedby="hook-types-hint"
          aria-invalid={fieldError("event_types") ? "true" : undefined}
          onInput={(e) => setTypes(e.currentTarget.value)}
        />
        <p id="hook-types-hint" class="hint">
          Separated by commas; empty for every type.
        </p>
        {fieldError("event_types") && <p class="field-error">{fieldError("event_types")}</p>}
      </div>
      {general && (
        <p class="form-error" role="alert">
          {general}
        </p>
      )}
      <button type="submit" class="primary">
        Subscribe
      </button>
    </form>
  );
}

/** A signing secret, shown the one time the API gives it. */
function Secret({ hook }: { hook: KeyedWebhook }) {
  return (
    <section class="card" aria-labelledby="secret-heading">
      <h2 id="secret-heading">Signing secret</h2>
      <p>
        For <code>{hook.url}</code>: check each request's <code>Sigma-Signature</code> with it.
        It is shown only now.
      </p>
      <p>
        <code data-testid="webhook-secret">{hook.secret}</code>
        <Copy text={hook.secret} label="Copy signing secret" />
      </p>
    </section>
  );
}

/** How many deliveries the log shows: the newest. */
const SHOWN = 100;
const PAGE = 1000;

/** A subscription's delivery log, newest first, kept current. */
function Deliveries({ hook }: { hook: Webhook }) {
  // The API lists deliveries oldest first, after a cursor: the log is walked to its end once,
  // then read again from just before the oldest one shown (their statuses change too).
  const from = useRef("");
  const log = usePolled(
    async () => {
      const all: Delivery[] = [];
      for (let after = from.current; ; ) {
        const cursor = after ? `&after=${encodeURIComponent(after)}` : "";
        const page = await api().get<{ data: Delivery[] }>(
          `/v1/webhooks/${hook.id}/deliveries?limit=${PAGE}${cursor}`,
        );
        all.push(...page.data);
        if (page.data.length < PAGE) break;
        after = page.data[page.data.length - 1].id;
      }
      if (all.length > SHOWN) from.current = all[all.length - SHOWN - 1].id;
      return { data: all.slice(-SHOWN).reverse(), older: all.length > SHOWN || !!from.current };
    },
    3000,
    [hook.id],
  );
  const [error, setError] = useState("");

  async function redeliver(delivery: Delivery) {
    setError("");
    try {
      await api().post(`/v1/webhooks/${hook.id}/deliveries/${delivery.id}/redeliver`);
    } catch (failure) {
      setError(describe(failure));
    }
  }

  const deliveries = log.value?.data ?? [];
  return (
    <section aria-label="Deliveries">
      {(error || log.error !== null) && (
        <p class="form-error" role="alert">
          {error || describe(log.error)}
        </p>
      )}
      {log.value && !deliveries.length && <p class="empty">Nothing sent yet.</p>}
      {!!deliveries.length && (
        <table class="deliveries">
          <thead>
            <tr>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Attempts</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((delivery) => (
              <tr key={delivery.id} data-event={delivery.event_id}>
                <td>
                  <code>{delivery.event_type}</code>
                  <span class="hint"> #{delivery.sequence}</span>
                </td>
                <td class={`delivery delivery-${delivery.status}`}>{delivery.status}</td>
                <td>
                  <details>
                    <summary>{delivery.attempts}</summary>
                    <ol class="attempts">
                      {delivery.attempt_log.map((attempt) => (
                        <li key={attempt.attempt}>
                          {new Date(attempt.attempted_at).toLocaleTimeString()}:{" "}
                          {attempt.status_code ?? attempt.error ?? "no answer"} in{" "}
                          {attempt.duration_ms} ms
                        </li>
                      ))}
                    </ol>
                  </details>
                </td>
                <td>
                  <button
                    type="button"
                    onClick={() => redeliver(delivery)}
                    aria-label={`Redeliver ${delivery.event_type} #${delivery.sequence}`}
                  >
                    Redeliver
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {log.value?.older && <p class="hint">The newest {SHOWN} deliveries.</p>}
    </section>
  );
}
