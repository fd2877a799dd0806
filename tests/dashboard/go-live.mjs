// Goes live through the dashboard as a newcomer would, in headless Chromium (playwright-core):
// signs in with the admin key, creates an account and a channel through the form (first with a
// setting the API refuses, whose message must appear by its field), copies the server URL and
// the stream key with the Copy buttons (read back from the clipboard), pushes ffmpeg to what was
// copied, and waits on the channel list for "live" and the thumbnail; then on the channel's page
// watches the live preview (how far it advances, how far behind live it says it is, and the
// audience chart counting it as a viewer), stops the
// channel and sees the session end, and plays the session's catch-up. Before going live it
// subscribes <hook url> to the account's events on the Webhooks page; at the end it reads the
// subscription's delivery log there and redelivers the `session.live` event. Reports what it
// saw as JSON on stdout; screenshots go to <artifacts dir>.
//
//   node go-live.mjs <base url> <admin key> <artifacts dir> <hook url> <desktop|phone>
//                    <public|signed: the channel's playback policy>
//
// What it needs: see common.mjs.
import { keepErrors, launch, publish, screenshots, VIEWPORTS, watch } from "./common.mjs";

const [base, adminKey, artifacts, hookUrl, viewport, policy] = process.argv.slice(2);

const report = { consoleErrors: [], screenshots: [] };
const shoot = screenshots(artifacts, report.screenshots);
// What the flow is doing, named in each console error (the refused form's 422 is expected).
let step = "sign-in";
const browser = await launch();
let publisher;
try {
  const context = await browser.newContext(VIEWPORTS[viewport]);
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  const page = await context.newPage();
  keepErrors(page, report.consoleErrors, () => step);
  const shot = (name) => shoot(page, name, viewport);

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
  await page.getByLabel("Playback policy").selectOption(policy);
  const longest = page.getByLabel("Longest session (seconds)");
  await longest.fill("5");
  // Done typing (a phone's browser would otherwise keep the focused field in view).
  await longest.blur();
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
  await longest.blur();
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

  // A webhook subscription, made in the page, for everything that happens from now on.
  step = "webhook";
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByLabel("Endpoint URL").fill(hookUrl);
  await page.getByRole("button", { name: "Subscribe" }).click();
  report.webhookSecret = await page.getByTestId("webhook-secret").textContent();
  await shot("webhooks");

  step = "live";
  const pushedAt = Date.now();
  publisher = publish(`${report.server}/${report.streamKey}`, (said) => {
    report.publisherErrors = (report.publisherErrors ?? "") + said;
  });

  await page.getByRole("link", { name: "Channels", exact: true }).click();
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

  // The DVR scrub bar: the storyboard's thumbnail of the moment under the pointer; back to the
  // window's start, then to the live edge again.
  step = "scrub";
  const behindLive = () =>
    page.evaluate(() => parseFloat(document.querySelector('[data-testid="behind-live"]').textContent));
  const track = page.locator(".scrubber .track");
  await track.waitFor({ timeout: 15000 });
  const box = await track.boundingBox();
  await track.hover({ position: { x: box.width * 0.1, y: box.height / 2 } });
  const tile = page.getByTestId("storyboard-tile");
  await tile.waitFor({ timeout: 15000 });
  report.storyboardTile = await tile.evaluate((element) => getComputedStyle(element).backgroundImage);
  await page.mouse.move(0, 0);
  await page.getByRole("slider", { name: "Position in the stream" }).fill("0");
  await page.waitForFunction(
    () => parseFloat(document.querySelector('[data-testid="behind-live"]').textContent) >= 4,
    null,
    { timeout: 10000 },
  );
  report.behindAfterRewind = await behindLive();
  await page.getByRole("button", { name: "Live", exact: true }).click();
  await page.waitForFunction(
    () => parseFloat(document.querySelector('[data-testid="behind-live"]').textContent) < 3,
    null,
    { timeout: 10000 },
  );
  report.behindBackLive = await behindLive();

  // The channel's audience chart counts the preview's viewer (figures are reported every few
  // seconds and the chart asks every 10 s).
  step = "audience";
  await page.waitForFunction(
    () => Number(document.querySelector('[data-testid="peak-ccu"]')?.textContent) >= 1,
    null,
    { timeout: 40000 },
  );
  report.peakViewers = Number(await page.getByTestId("peak-ccu").first().textContent());
  report.chartLabel = await page.locator("figure.chart svg").first().getAttribute("aria-label");
  await shot("channel-live");

  // The channel list counts that viewer too (for some seconds after the preview is left).
  step = "viewers";
  await page.getByRole("link", { name: "Channels", exact: true }).click();
  await page.waitForFunction(
    (id) => Number(document.querySelector(`tr[data-channel="${id}"] td.viewers`)?.textContent) >= 1,
    channelId,
    { timeout: 10000 },
  );
  report.listedViewers = Number(await page.locator(`tr[data-channel="${channelId}"] td.viewers`).textContent());
  await page.getByRole("link", { name: "Main stage" }).click();

  // The encoder leaves; the owner stops the channel, and the session ends.
  step = "stop";
  publisher.kill("SIGKILL");
  page.on("dialog", (dialog) => dialog.accept());
  await page.getByRole("button", { name: "Stop" }).click();
  const ended = page.locator("ul.sessions li", { hasText: "ended" });
  await ended.waitFor({ timeout: 30000 });
  report.endedAs = await ended.locator("p").first().textContent();
  report.statusAfterStop = await page.locator("h1 + .status").textContent();
  // The history shows the session's end (newest first).
  await page.locator('ol.timeline li[data-type="session.ended"]').waitFor({ timeout: 15000 });
  report.history = await page.locator("ol.timeline li").evaluateAll((items) => items.map((li) => li.dataset.type));

  // Its catch-up plays.
  step = "catch-up";
  await ended.getByRole("button", { name: "Watch" }).click();
  report.catchup = await watch(page.locator('video[aria-label="Catch-up player"]'), 2);
  await shot("channel-stopped");

  // The subscription's delivery log shows the session's events delivered; one is sent again.
  step = "deliveries";
  await page.getByRole("link", { name: "Webhooks" }).click();
  await page.getByRole("link", { name: "Deliveries" }).click();
  const delivery = (type) =>
    page.locator("table.deliveries tr", { has: page.locator("code", { hasText: new RegExp(`^${type}$`) }) });
  const delivered = delivery("session.ended").locator(".delivery", { hasText: "delivered" });
  await delivered.waitFor({ timeout: 30000 });
  report.deliveries = await page.locator("table.deliveries tbody tr").evaluateAll((rows) =>
    rows.map((tr) => ({
      type: tr.querySelector("code").textContent,
      status: tr.querySelector(".delivery").textContent,
    })),
  );
  report.redelivered = await delivery("session.live").getAttribute("data-event");
  await delivery("session.live").getByRole("button", { name: /^Redeliver/ }).click();
  await shot("webhook-deliveries");
} catch (error) {
  report.failure = String(error && error.stack ? error.stack : error);
} finally {
  publisher?.kill("SIGKILL");
  await browser.close();
}
console.log(JSON.stringify(report));
