// Every page of the dashboard and the player page, at a desktop's and a phone's viewport and at
// 200 % zoom, in headless Chromium (playwright-core): each is checked by axe-core, measured for
// sideways overflow and screenshotted; the keyboard alone opens the "New channel" form. On the
// way, as a newcomer would: the admin mints an API token with one scope on the account picker;
// the channel list (of the account's many channels) is timed from navigation to every row shown,
// and the compressed bytes of its first load are counted; on the Tokens page a playback token
// is minted for a signed channel and a playback key is created and deleted. Reports what it saw
// as JSON on stdout; screenshots go to <artifacts dir>.
//
//   node pages.mjs <base url> <admin key> <account name> <channel id> <signed channel id>
//                  <channel count> <webhook id> <artifacts dir>
//
// What it needs: see common.mjs; also axe-core under $SIGMA_NODE_MODULES.
import path from "node:path";
import { keepErrors, launch, screenshots, VIEWPORTS } from "./common.mjs";

/** The desktop, the phone, and the desktop at 200 % zoom (half the CSS pixels, each twice as
 * large). */
const SWEPT = {
  ...VIEWPORTS,
  zoomed: { viewport: { width: 640, height: 400 }, deviceScaleFactor: 2 },
};

const [base, adminKey, account, channelId, signedId, channelCount, hookId, artifacts] =
  process.argv.slice(2);
const AXE = path.join(process.env.SIGMA_NODE_MODULES, "axe-core", "axe.min.js");

const report = { consoleErrors: [], screenshots: [], pages: [] };
const shoot = screenshots(artifacts, report.screenshots);
let step = "start";

/** axe-core's serious and critical violations on the page as it stands, with where they are. */
async function audit(page) {
  await page.addScriptTag({ path: AXE });
  const results = await page.evaluate(() => axe.run(document, { resultTypes: ["violations"] }));
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.slice(0, 5).map((node) => node.target.join(" ")),
    }));
}

/** Checks and screenshots the page as it stands, under `name`: its accessibility, and how far
 * it is wider than the screen (it should never need scrolling sideways). */
async function visit(page, name, viewport) {
  const violations = await audit(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth);
  await shoot(page, name, viewport);
  report.pages.push({ name, viewport, violations, overflow });
}

const browser = await launch();
try {
  for (const [viewport, options] of Object.entries(SWEPT)) {
    // axe is injected as a script of its own: the pages' policy would refuse it.
    const context = await browser.newContext({ ...options, bypassCSP: true });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
    const page = await context.newPage();
    keepErrors(page, report.consoleErrors, () => `${viewport} ${step}`);
    const desktop = viewport === "desktop";

    step = "sign-in";
    await page.goto(base);
    await page.getByLabel("API token").waitFor();
    await visit(page, "sign-in", viewport);
    await page.getByLabel("API token").fill(adminKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "API tokens" }).waitFor();
    await visit(page, "accounts", viewport);

    if (desktop) {
      // An API token that may read but not write.
      step = "api-token";
      await page.getByLabel("Account", { exact: true }).selectOption({ label: account });
      await page.getByLabel(/channels:write/).uncheck();
      await page.getByLabel("Valid for").selectOption({ label: "1 day" });
      await page.getByRole("button", { name: "Mint API token" }).click();
      report.apiToken = await page.getByTestId("api-token").textContent();
    }

    // The channel list, timed from the navigation to its last row, and what its first load
    // cost (the page's own files, as they came over the wire).
    step = "channels";
    const started = Date.now();
    await page.getByRole("button", { name: `Use ${account}` }).click();
    await page.waitForFunction(
      (count) => document.querySelectorAll("table.channels tbody tr").length >= count,
      Number(channelCount),
      { timeout: 30000 },
    );
    const rendered = Date.now() - started;
    if (desktop) {
      report.listRenderedMs = rendered;
      report.firstLoadBytes = await page.evaluate(() =>
        [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
          .filter((entry) => !new URL(entry.name).pathname.startsWith("/v1/"))
          .reduce((sum, entry) => sum + entry.transferSize, 0),
      );
    }
    await visit(page, "channels", viewport);

    step = "channel";
    await page.goto(`${base}/channels/${channelId}`);
    await page.getByRole("heading", { name: "Go live" }).waitFor();
    await page.getByTestId("peak-ccu").first().waitFor();
    await visit(page, "channel", viewport);

    // The keyboard alone reaches "New channel" and opens the form.
    step = "new-channel";
    await page.getByRole("link", { name: "Channels", exact: true }).click();
    await page.getByRole("button", { name: "New channel" }).waitFor();
    const focused = () => page.evaluate(() => document.activeElement?.textContent);
    let tabs = 0;
    while (tabs < 20 && (await focused()) !== "New channel") {
      await page.keyboard.press("Tab");
      tabs += 1;
    }
    await page.keyboard.press("Enter");
    await page.getByLabel("Name", { exact: true }).waitFor();
    if (desktop) report.tabsToNewChannel = tabs;
    await visit(page, "new-channel", viewport);

    step = "webhooks";
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByLabel("Endpoint URL").waitFor();
    await visit(page, "webhooks", viewport);
    await page.goto(`${base}/webhooks/${hookId}`);
    await page.locator("table.deliveries tbody tr").first().waitFor();
    await visit(page, "deliveries", viewport);

    step = "tokens";
    await page.getByRole("link", { name: "Tokens" }).click();
    await page.getByRole("heading", { name: "Playback keys" }).waitFor();
    if (desktop) {
      await page.getByLabel("Channel").selectOption(signedId);
      await page.getByLabel("Opens").selectOption("video");
      await page.getByRole("button", { name: "Mint playback token" }).click();
      report.playbackToken = await page.getByTestId("playback-token").textContent();
      await page.getByRole("button", { name: "New playback key" }).click();
      report.privateKey = await page.getByTestId("private-key").textContent();
      await page.locator("ul.keys li").first().waitFor();
      report.keysListed = await page.locator("ul.keys li").count();
    }
    await visit(page, "tokens", viewport);
    if (desktop) {
      page.once("dialog", (dialog) => dialog.accept());
      await page.getByRole("button", { name: /^Delete playback key/ }).click();
      await page.getByText("No playback key.").waitFor();
      report.keysAfterDelete = await page.locator("ul.keys li").count();
    }

    step = "embed";
    await page.goto(`${base}/embed/${channelId}`);
    await page.getByTestId("embed-status").waitFor();
    await visit(page, "embed", viewport);
    await context.close();
  }
} catch (error) {
  report.failure = String(error && error.stack ? error.stack : error);
} finally {
  await browser.close();
}
console.log(JSON.stringify(report));
