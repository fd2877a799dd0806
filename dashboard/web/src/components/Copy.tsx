import { useState } from "preact/hooks";

/** A button that copies `text`, and says so to screen readers too. */
export function Copy({ text, label }: { text: string; label: string }) {
  const [said, setSaid] = useState("");
  async function copy() {
    try {
      await navigator.clipboard.writeText(text);
      setSaid("Copied");
    } catch {
      setSaid("Copy failed: select the text and copy it by hand");
    }
    setTimeout(() => setSaid(""), 2000);
  }
  return (
    <span class="copy">
      <button type="button" onClick={copy} aria-label={label}>
        Copy
      </button>
      <span role="status" class="said">
        {said}
      </span>
    </span>
  );
}
