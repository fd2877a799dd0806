// The public API, as the dashboard calls it: every request carries the signed-in secret (an
// account's token, or the admin key for the account picker) and every error is the API's
// `{"error": {"code", "message", "field"?}}`.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The request field at fault, for a 422 about one. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export type LatencyMode = "normal" | "low" | "ultra_low";
export type Transcode = "passthrough" | "abr";
export type PlaybackPolicy = "public" | "signed";
export type ChannelStatus = "idle" | "active" | "stopped";

export interface Settings {
  latency_mode: LatencyMode;
  transcode: Transcode;
  dvr_window_seconds: number;
  record_source: boolean;
  thumbnail_interval_seconds: number;
  reconnect_window_seconds: number;
  max_session_seconds: number;
  playback_policy: PlaybackPolicy;
}

export interface Channel extends Settings {
  id: string;
  name: string;
  status: ChannelStatus;
  stream_key?: string;
  rtmp_url?: string;
  playback_url: string;
  current_session_id: string | null;
  /** Playback sessions watching now. */
  viewers: number;
  created_at: string;
  updated_at: string;
}

export interface Session {
  id: string;
  channel_id: string;
  status: "init" | "processing" | "live" | "error" | "ended";
  publisher_connected: boolean;
  restream_count: number;
  backup_connected: boolean;
  on_air_input: "primary" | "backup";
  failover_count: number;
  started_at: string;
  live_at: string | null;
  ended_at: string | null;
  end_reason: string | null;
  error_message: string | null;
  recording_url: string | null;
  recording_bytes: number | null;
  catchup_url: string | null;
  thumbnail_url: string;
  storyboard_url: string;
}

export interface Alert {
  id: string;
  session_id: string;
  code: string;
  message: string;
  state: "open" | "closed";
  raised_at: string;
  cleared_at: string | null;
}

export interface Account {
  id: string;
  name: string;
  created_at: string;
}

export interface Webhook {
  id: string;
  url: string;
  /** Empty: every event type. */
  event_types: string[];
  created_at: string;
  previous_secret_valid_until?: string | null;
}

/** A subscription as created or re-keyed: its secret is shown this once. */
export interface KeyedWebhook extends Webhook {
  secret: string;
}

export interface Attempt {
  attempt: number;
  attempted_at: string;
  duration_ms: number;
  status_code?: number | null;
  error?: string | null;
}

export interface Delivery {
  id: string;
  event_id: string;
  event_type: string;
  channel_id: string;
  sequence: number;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  created_at: string;
  delivered_at?: string | null;
  next_attempt_at?: string | null;
  last_status_code?: number | null;
  last_error?: string | null;
  attempt_log: Attempt[];
}

export interface Minted {
  token: string;
  expires_at: string;
}

export class Api {
  /** `unauthorized` is told of a 401 (an expired or revoked token) before it is thrown. */
  constructor(
    private readonly secret: string,
    private readonly unauthorized?: () => void,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.secret}` };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    const parsed = text ? safeJson(text) : undefined;
    if (response.status === 401) this.unauthorized?.();
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; field?: string } })
        ?.error;
      throw new ApiError(
        response.status,
        error?.code ?? "http_error",
        error?.message ?? `${response.status} ${response.statusText}`,
        error?.field,
      );
    }
    return parsed as T;
  }

  get<T>(path: string) {
    return this.call<T>("GET", path);
  }

  post<T>(path: string, body?: unknown) {
    return this.call<T>("POST", path, body ?? {});
  }

  patch<T>(path: string, body: unknown) {
    return this.call<T>("PATCH", path, body);
  }

  delete(path: string) {
    return this.call<void>("DELETE", path);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Every page of a listing (`data`, `?after=` the last id). */
export async function listAll<T extends { id: string }>(api: Api, path: string): Promise<T[]> {
  const all: T[] = [];
  for (;;) {
    const after = all.length ? `&after=${encodeURIComponent(all[all.length - 1].id)}` : "";
    const page = await api.get<{ data: T[] }>(`${path}?limit=1000${after}`);
    all.push(...page.data);
    if (page.data.length < 1000) return all;
  }
}
