// What the dashboard's browser scripts share: Debian's Chromium driven by playwright-core, a
// player watched until it advances, and ffmpeg publishing a test pattern as an encoder would.
//
// Needs playwright-core under $SIGMA_NODE_MODULES (make test installs it), Debian's chromium at
// /usr/bin/chromium (or $SIGMA_CHROMIUM) and ffmpeg on PATH.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.SIGMA_NODE_MODULES, "noop.js"));
const { chromium } = require("playwright-core");

/** The browser contexts' options for a desktop and for a phone. */
export const VIEWPORTS = {
  desktop: { viewport: { width: 1280, height: 800 } },
  phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
};

export function launch() {
  return chromium.launch({
    executablePath: process.env.SIGMA_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
}

/**
 * Waits until `video` (a locator) has advanced `seconds` from where it first showed a picture
 * (30 s at most); how far it advanced, and whether its player reported a failure.
 */
export async function watch(video, seconds) {
  await video.waitFor({ timeout: 30000 });
  const started = Date.now();
  let first = null;
  let advanced = 0;
  while (Date.now() - started < 30000) {
    const now = await video.evaluate((element) => (element.readyState >= 2 ? element.currentTime : null));
    if (now !== null) {
      first ??= now;
      advanced = now - first;
      if (advanced >= seconds) break;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const failed = await video.locator("xpath=..").getByRole("alert").count();
  return { advanced, failed: failed > 0 };
}

/**
 * ffmpeg pushing a 320x180 test pattern and tone to `url` in real time, with 1 s keyframes;
 * what it says on stderr goes to `errors`.
 */
export function publish(url, errors) {
  const publisher = spawn("ffmpeg", [
    "-v", "error", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30",
    "-c:a", "aac", "-f", "flv", url,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  publisher.stderr.on("data", (data) => errors(String(data)));
  return publisher;
}

/** Keeps the page's console errors (and uncaught ones) in `into`, each named by `step()`. */
export function keepErrors(page, into, step) {
  page.on("console", (message) => {
    if (message.type() === "error") {
      into.push(`${step()}: ${message.text()} ${message.location().url ?? ""}`.trim());
    }
  });
  page.on("pageerror", (error) => into.push(`${step()}: ${error}`));
}

/** Takes full-page screenshots into `dir` as `{name}-{viewport}.png`, listed in `list`. */
export function screenshots(dir, list) {
  return async (page, name, viewport = "desktop") => {
    const file = path.join(dir, `${name}-${viewport}.png`);
    await page.screenshot({ path: file, fullPage: true });
    list.push(file);
  };
}
