// The player page as a site that embeds it shows it, in headless Chromium (playwright-core):
// another origin's page frames four players — a public channel plain and with `?catchup=1`, a
// signed channel with a playback token and without one. While the channels are idle the frames
// say so; ffmpeg then pushes to both channels and the players play live; the channels are
// stopped through the API and the plain player shows the session's last picture while the
// `?catchup=1` one plays its catch-up. Then a phone opens the player pages themselves. Reports
// what it saw as JSON on stdout; screenshots go to <artifacts dir>.
//
//   node embed.mjs <playback base url> <api url> <api token> <public channel id> <its rtmp url>
//                  <signed channel id> <its rtmp url> <video token> <artifacts dir>
//
// What it needs: see common.mjs.
import http from "node:http";
import { keepErrors, launch, publish, screenshots, VIEWPORTS, watch } from "./common.mjs";

const [base, apiUrl, apiToken, publicId, publicRtmp, signedId, signedRtmp, videoToken, artifacts] =
  process.argv.slice(2);

const FRAMES = {
  plain: `${base}/embed/${publicId}`,
  catchup: `${base}/embed/${publicId}?catchup=1`,
  signed: `${base}/embed/${signedId}?token=${videoToken}`,
  unsigned: `${base}/embed/${signedId}`,
};

/** What the frame (or page) says in its status line. */
const said = (frame) => frame.getByTestId("embed-status").textContent({ timeout: 15000 });

/** The width of the poster the frame (or page) shows, once it has loaded; 0 if none did. */
async function posterWidth(frame) {
  const img = frame.locator("img");
  await img.waitFor({ timeout: 30000 });
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    const width = await img.evaluate((element) => (element.complete ? element.naturalWidth : 0));
    if (width > 0) return width;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return 0;
}

// The site that embeds the players, four side by side: another origin than playback's (served
// on loopback too, so that no local-network rule stands between it and playback).
const siteServer = http.createServer((_, response) => {
  response.setHeader("content-type", "text/html");
  response.end(
    "<!doctype html><title>A site</title><style>iframe{width:600px;height:338px;border:0}</style>" +
      Object.entries(FRAMES)
        .map(([name, src]) => `<iframe id="${name}" title="${name}" src="${src}" allow="autoplay"></iframe>`)
        .join(""),
  );
});
await new Promise((resolve) => siteServer.listen(0, "127.0.0.1", resolve));
const site = `http://127.0.0.1:${siteServer.address().port}/`;

const report = { consoleErrors: [], screenshots: [] };
const shoot = screenshots(artifacts, report.screenshots);
const publisherSaid = (said) => (report.publisherErrors = (report.publisherErrors ?? "") + said);
let step = "idle";
const browser = await launch();
const publishers = [];
try {
  const context = await browser.newContext(VIEWPORTS.desktop);
  const page = await context.newPage();
  keepErrors(page, report.consoleErrors, () => step);

  await page.goto(site);
  const frame = (name) => page.frameLocator(`#${name}`);

  // Idle: nothing to play, and no picture yet; the signed channel refuses a frame without token.
  await frame("plain").getByText("offline").waitFor({ timeout: 15000 });
  report.idle = await said(frame("plain"));
  await frame("signed").getByText("offline").waitFor({ timeout: 15000 });
  report.signedIdle = await said(frame("signed"));
  await frame("unsigned").getByText("needs a playback token").waitFor({ timeout: 15000 });
  report.unsigned = await said(frame("unsigned"));
  await shoot(page, "embed-idle");

  // Live: every player with a way in plays within a few polls.
  step = "live";
  publishers.push(publish(publicRtmp, publisherSaid), publish(signedRtmp, publisherSaid));
  const live = (name) => watch(frame(name).locator('video[aria-label="Live"]'), 3);
  const [plain, catchup, signed] = await Promise.all([live("plain"), live("catchup"), live("signed")]);
  report.live = { plain, catchup, signed };
  report.unsignedLive = await said(frame("unsigned"));
  await shoot(page, "embed-live");

  // The channels stop: the plain player falls back to the session's last picture, the
  // `?catchup=1` one plays the session again.
  step = "ended";
  for (const publisher of publishers) publisher.kill("SIGKILL");
  for (const id of [publicId, signedId]) {
    const stopped = await fetch(`${apiUrl}/v1/channels/${id}/stop`, {
      method: "POST",
      headers: { authorization: `Bearer ${apiToken}` },
    });
    if (!stopped.ok) throw new Error(`stopping ${id}: ${stopped.status}`);
  }
  report.posterWidth = await posterWidth(frame("plain"));
  report.ended = await said(frame("plain"));
  report.catchup = await watch(frame("catchup").locator('video[aria-label="Catch-up"]'), 2);
  await shoot(page, "embed-ended");

  // A phone opens the player pages themselves.
  step = "phone";
  const phone = await browser.newContext(VIEWPORTS.phone);
  const small = await phone.newPage();
  keepErrors(small, report.consoleErrors, () => step);
  await small.goto(FRAMES.catchup);
  const video = small.locator('video[aria-label="Catch-up"]');
  report.phoneCatchup = await watch(video, 2);
  report.phoneVideoWidth = await video.evaluate((element) => element.getBoundingClientRect().width);
  await shoot(small, "embed-catchup", "phone");
  await small.goto(FRAMES.plain);
  report.phonePosterWidth = await posterWidth(small);
  await shoot(small, "embed-ended", "phone");
} catch (error) {
  report.failure = String(error && error.stack ? error.stack : error);
} finally {
  for (const publisher of publishers) publisher.kill("SIGKILL");
  await browser.close();
  siteServer.close();
}
console.log(JSON.stringify(report));
