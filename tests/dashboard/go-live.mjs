// Goes live through the dashboard as a newcomer would, in headless Chromium (playwright-core):
// signs in with the admin key, creates an account and a channel through the form (first with a
// setting the API refuses, whose message must appear by its field), copies the server URL and
// the stream key with the Copy buttons (read back from the clipboard), pushes ffmpeg to what was
// copied, and waits on the channel list for "live" and the thumbnail; then on the channel's page
// watches the live preview (how far it advances, how far behind live it says it is), stops the
// channel and sees the session end, and plays the session's catch-up. Reports what it saw as
// JSON on stdout; screenshots go to <artifacts dir>.
//
//   node go-live.mjs <base url> <admin key> <artifacts dir>
//
// Needs playwright-core under $SIGMA_NODE_MODULES (make test installs it), Debian's chromium at
// /usr/bin/chromium and ffmpeg on PATH.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.SIGMA_NODE_MODULES, "noop.js"));
const { chromium } = require("playwright-core");

const [base, adminKey, artifacts] = process.argv.slice(2);

/**
 * Waits until `video` has advanced `seconds` from where it first showed a picture (30 s at
 * most); how far it advanced, and whether its player reported a failure.
 */
async function watch(video, seconds) {
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

const report = { consoleErrors: [], screenshots: [] };
// What the flow is doing, named in each console error (the refused form's 422 is expected).
let step = "sign-in";
const browser = await chromium.launch({
  executablePath: process.env.SIGMA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
});
let publisher;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  page.on("console", (message) => {
    if (message.type() === "error") {
      report.consoleErrors.push(`${step}: ${message.text()} ${message.location().url ?? ""}`.trim());
    }
  });
  page.on("pageerror", (error) => report.consoleErrors.push(`${step}: ${error}`));
  const shot = async (name) => {
    const file = path.join(artifacts, `${name}-desktop.png`);
    await page.screenshot({ path: file, fullPage: true });
    report.screenshots.push(file);
  };

  await page.goto(base);
  await shot("sign-in");
  await page.getByLabel("API token").fill(adminKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByLabel("Account name").fill("Studio");
  await shot("accounts");
  await page.getByRole("button", { name: "Create account" }).click();

  await page.getByRole("button", { name: "New channel" }).click();
  await page.getByLabel("Name", { exact: true }).fill("Main stage");
  await page.getByLabel("Latency mode").selectOption("ultra_low");
  const longest = page.getByLabel("Longest session (seconds)");
  await longest.fill("5");
  step = "refused";
  await page.getByRole("button", { name: "Create channel" }).click();
  // The API's 422 names the field; the form shows its message inside that field's block.
  const fieldError = page.locator(".field:has(#max_session_seconds) .field-error");
  await fieldError.waitFor();
  report.fieldError = {
    text: await fieldError.textContent(),
    invalid: await longest.getAttribute("aria-invalid"),
  };
  await shot("new-channel-refused");
  step = "channel";
  await longest.fill("3600");
  await page.getByRole("button", { name: "Create channel" }).click();

  await page.waitForURL(/\/channels\/[\w-]+$/);
  report.channelPath = new URL(page.url()).pathname;
  report.maskedKey = await page.getByTestId("stream-key").textContent();
  // Each Copy button says "Copied" once the clipboard holds the text.
  const copied = async (label) => {
    const button = page.getByRole("button", { name: label });
    await button.click();
    await button.locator("xpath=..").getByRole("status").filter({ hasText: "Copied" }).waitFor();
    return page.evaluate(() => navigator.clipboard.readText());
  };
  report.server = await copied("Copy server URL");
  report.streamKey = await copied("Copy stream key");
  await shot("channel");

  // A reload of the deep link lands on the same channel.
  await page.reload();
  await page.getByRole("heading", { name: "Main stage" }).waitFor();

  step = "live";
  const pushedAt = Date.now();
  publisher = spawn("ffmpeg", [
    "-v", "error", "-re",
    "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
    "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-g", "30",
    "-c:a", "aac", "-f", "flv", `${report.server}/${report.streamKey}`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  publisher.stderr.on("data", (data) => (report.publisherErrors = (report.publisherErrors ?? "") + data));

  await page.getByRole("link", { name: "← Channels" }).click();
  const row = page.locator("tr", { has: page.getByRole("link", { name: "Main stage" }) });
  await row.locator(".status", { hasText: "live" }).waitFor({ timeout: 30000 });
  report.liveAfterMs = Date.now() - pushedAt;
  // The row tries the thumbnail again every 10 s until the first one exists.
  const channelId = report.channelPath.split("/").pop();
  const width = await page.waitForFunction((id) => {
    const img = document.querySelector(`tr[data-channel="${id}"] img`);
    return img && img.complete && img.naturalWidth > 0 ? img.naturalWidth : 0;
  }, channelId, { timeout: 30000 });
  report.thumbnailAfterMs = Date.now() - pushedAt;
  report.thumbnailWidth = await width.jsonValue();
  await shot("channels-live");

  // The channel's page: the preview plays, and says how far behind live it is.
  step = "preview";
  await page.getByRole("link", { name: "Main stage" }).click();
  const preview = page.locator('video[aria-label="Live preview"]');
  await preview.waitFor();
  report.preview = await watch(preview, 3);
  await page.waitForFunction(() => /behind live/.test(document.querySelector('[data-testid="behind-live"]')?.textContent ?? ""), null, { timeout: 10000 });
  report.behindLive = await page.getByTestId("behind-live").textContent();
  report.sessionState = await page.getByTestId("session-state").textContent();
  await shot("channel-live");

  // The encoder leaves; the owner stops the channel, and the session ends.
  step = "stop";
  publisher.kill("SIGKILL");
  page.on("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Stop" }).click();
  const ended = page.locator("ul.sessions li", { hasText: "ended" });
  await ended.waitFor({ timeout: 30000 });
  report.endedAs = await ended.locator("p").first().textContent();
  report.statusAfterStop = await page.locator("h1 + .status").textContent();

  // Its catch-up plays.
  step = "catch-up";
  await ended.getByRole("button", { name: "Watch" }).click();
  report.catchup = await watch(page.locator('video[aria-label="Catch-up player"]'), 2);
  await shot("channel-stopped");
} catch (error) {
  report.failure = String(error && error.stack ? error.stack : error);
} finally {
  publisher?.kill("SIGKILL");
  await browser.close();
}
console.log(JSON.stringify(report));
