// Every channel setting, with the API's own defaults, and each 422 shown by the field it names.

import { useState } from "preact/hooks";
import { ApiError, Channel, Settings } from "../api";
import { describe } from "../live";
import { api } from "../session";

export const DEFAULTS: Settings = {
  latency_mode: "low",
  transcode: "passthrough",
  dvr_window_seconds: 1800,
  record_source: false,
  thumbnail_interval_seconds: 10,
  reconnect_window_seconds: 60,
  max_session_seconds: 43200,
  playback_policy: "public",
};

type Values = Settings & { name: string };
type Field = keyof Values;

interface Described {
  field: Field;
  label: string;
  hint: string;
}

const CHOICES: (Described & { options: [string, string][] })[] = [
  {
    field: "latency_mode",
    label: "Latency mode",
    hint: "How far behind the encoder viewers are.",
    options: [
      ["ultra_low", "Ultra low (about 1 s, LL-HLS)"],
      ["low", "Low (a few seconds)"],
      ["normal", "Normal (most compatible)"],
    ],
  },
  {
    field: "transcode",
    label: "Transcode",
    hint: "Adaptive bitrate lets slow connections keep playing.",
    options: [
      ["passthrough", "Passthrough (the encoder's stream as is)"],
      ["abr", "Adaptive bitrate (a ladder of renditions)"],
    ],
  },
  {
    field: "playback_policy",
    label: "Playback policy",
    hint: "Who may watch.",
    options: [
      ["public", "Public (anyone with the link)"],
      ["signed", "Signed (a playback token is needed)"],
    ],
  },
];

const NUMBERS: Described[] = [
  { field: "dvr_window_seconds", label: "DVR window (seconds)", hint: "How far back viewers may rewind; 0 turns DVR off." },
  { field: "thumbnail_interval_seconds", label: "Thumbnail interval (seconds)", hint: "A thumbnail every so many seconds; 0 turns them off." },
  { field: "reconnect_window_seconds", label: "Reconnect window (seconds)", hint: "How long a session waits for its encoder to come back." },
  { field: "max_session_seconds", label: "Longest session (seconds)", hint: "A session ends when it has run this long." },
];

/**
 * Creates a channel (no `channel`) or edits one. Calls `done` with the channel as the API
 * answered it.
 */
export function ChannelForm({
  channel,
  done,
  cancel,
}: {
  channel?: Channel;
  done: (channel: Channel) => void;
  cancel: () => void;
}) {
  const [values, setValues] = useState<Values>(
    channel ? { ...pick(channel), name: channel.name } : { ...DEFAULTS, name: "" },
  );
  const [errors, setErrors] = useState<Partial<Record<Field, string>>>({});
  const [failure, setFailure] = useState("");
  const [busy, setBusy] = useState(false);

  const set = (field: Field, value: string | number | boolean) =>
    setValues({ ...values, [field]: value });

  async function submit(event: Event) {
    event.preventDefault();
    const empty = NUMBERS.find(({ field }) => Number.isNaN(values[field]));
    if (empty) {
      setErrors({ [empty.field]: "Enter a number of seconds." });
      return;
    }
    setBusy(true);
    setErrors({});
    setFailure("");
    try {
      const answer = channel
        ? await api().patch<Channel>(`/v1/channels/${channel.id}`, values)
        : await api().post<Channel>("/v1/channels", values);
      done(answer);
    } catch (error) {
      if (error instanceof ApiError && error.field && error.field in values) {
        setErrors({ [error.field as Field]: error.message });
      } else {
        setFailure(describe(error));
      }
    } finally {
      setBusy(false);
    }
  }

  const message = (field: Field) =>
    errors[field] ? (
      <p class="field-error" id={`${field}-error`} role="alert">
        {errors[field]}
      </p>
    ) : null;
  const described = (field: Field) =>
    errors[field] ? `${field}-hint ${field}-error` : `${field}-hint`;

  return (
    <form class="card channel-form" onSubmit={submit} noValidate>
      <h2>{channel ? "Settings" : "New channel"}</h2>
      <div class="field">
        <label for="name">Name</label>
        <input
          id="name"
          value={values.name}
          onInput={(e) => set("name", e.currentTarget.value)}
          aria-invalid={!!errors.name}
          aria-describedby={described("name")}
        />
        <p class="hint" id="name-hint">What you and your viewers call it.</p>
        {message("name")}
      </div>
      {CHOICES.map(({ field, label, hint, options }) => (
        <div class="field" key={field}>
          <label for={field}>{label}</label>
          <select
            id={field}
            value={String(values[field])}
            onChange={(e) => set(field, e.currentTarget.value)}
            aria-invalid={!!errors[field]}
            aria-describedby={described(field)}
          >
            {options.map(([value, text]) => (
              <option value={value} key={value}>
                {text}
              </option>
            ))}
          </select>
          <p class="hint" id={`${field}-hint`}>
            {hint}
          </p>
          {message(field)}
        </div>
      ))}
      {NUMBERS.map(({ field, label, hint }) => (
        <div class="field" key={field}>
          <label for={field}>{label}</label>
          <input
            id={field}
            type="number"
            inputMode="numeric"
            value={Number.isNaN(values[field]) ? "" : String(values[field])}
            // An emptied field stays empty (and is not sent), never 0, which would turn DVR
            // or thumbnails off.
            onInput={(e) =>
              set(field, e.currentTarget.value === "" ? NaN : Number(e.currentTarget.value))
            }
            aria-invalid={!!errors[field]}
            aria-describedby={described(field)}
          />
          <p class="hint" id={`${field}-hint`}>
            {hint}
          </p>
          {message(field)}
        </div>
      ))}
      <div class="field check">
        <input
          id="record_source"
          type="checkbox"
          checked={values.record_source}
          onChange={(e) => set("record_source", e.currentTarget.checked)}
        />
        <label for="record_source">Record the source (a downloadable MP4 of each session)</label>
        {message("record_source")}
      </div>
      {failure && (
        <p class="form-error" role="alert">
          {failure}
        </p>
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {channel ? "Save" : "Create channel"}
        </button>
        <button type="button" onClick={cancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function pick(channel: Channel): Settings {
  const settings = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    (settings as Record<string, unknown>)[key] = channel[key];
  }
  return settings;
}
