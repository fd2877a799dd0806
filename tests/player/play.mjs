// Plays an HLS stream with hls.js in headless Chromium and reports what a viewer saw, as JSON:
// time to first frame, how far playback advanced, stalls, fatal errors, and the codecs the
// browser said it supports. Used by the black-box tests and the latency benchmark.
//
//   node play.mjs <playlist url> <seconds to watch> [low-latency: true|false] [stamped: true|false]
//                 [switch: true|false]
//
// With `switch`, the player is asked every 2 s to move to the next rendition (hls.nextLevel, a
// seamless switch), and reports the levels it played and their heights.
//
// With `stamped`, the publisher drew its wall clock into each picture (24 white-or-black boxes
// along the top: bit i of the capture time in ms, mod 2^24, at x = 8 + 12 i, y = 4, 10x10 px);
// every displayed frame is read back through a canvas and its glass-to-glass latency reported.
//
// Needs hls.js and playwright-core under $SIGMA_NODE_MODULES (make test installs them) and
// Debian's chromium at /usr/bin/chromium.
import { createRequire } from "node:module";
import path from "node:path";

const modules = process.env.SIGMA_NODE_MODULES;
const require = createRequire(path.join(modules, "noop.js"));
const { chromium } = require("playwright-core");
const hlsScript = path.join(modules, "hls.js", "dist", "hls.min.js");

const [url, seconds = "8", lowLatency = "true", stamped = "false", switching = "false"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.SIGMA_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"],
});
try {
  const page = await browser.newPage();
  await page.setContent("<video id=v muted playsinline></video>");
  await page.addScriptTag({ path: hlsScript });
  const report = await page.evaluate(async ({ url, seconds, lowLatency, stamped, switching }) => {
    const video = document.getElementById("v");
    const report = { supported: Hls.isSupported(), fatal: [], errors: 0, stalls: 0, stallSeconds: 0,
                     firstFrameSeconds: null, advancedSeconds: 0, samples: [], levelHeights: [],
                     switchedTo: [] };
    if (!report.supported) return report;
    const hls = new Hls({ lowLatencyMode: lowLatency });
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      report.levelHeights = data.levels.map((level) => level.height);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => report.switchedTo.push(data.level));
    report.errorDetails = [];
    hls.on(Hls.Events.ERROR, (_, data) => {
      report.errors += 1;
      if (report.errorDetails.length < 10) {
        const status = data.response ? ` ${data.response.code}` : "";
        report.errorDetails.push(`${data.type}: ${data.details}${status} ${data.url || (data.frag && data.frag.url) || ""}`);
      }
      if (data.fatal) report.fatal.push(`${data.type}: ${data.details}`);
    });
    const started = performance.now();
    let stalledAt = null;
    video.addEventListener("waiting", () => { if (report.firstFrameSeconds !== null) { report.stalls += 1; stalledAt = performance.now(); } });
    video.addEventListener("playing", () => { if (stalledAt !== null) { report.stallSeconds += (performance.now() - stalledAt) / 1000; stalledAt = null; } });
    report.latencies = [];
    if (stamped) {
      const canvas = document.createElement("canvas");
      const context = canvas.getContext("2d", { willReadFrequently: true });
      const onFrame = () => {
        if (video.videoWidth > 0) {
          canvas.width = video.videoWidth;
          canvas.height = 20;
          context.drawImage(video, 0, 0, video.videoWidth, video.videoHeight, 0, 0, video.videoWidth, video.videoHeight);
          const scale = video.videoWidth / 320;
          let stamp = 0;
          for (let bit = 0; bit < 24; bit++) {
            const [r, g, b] = context.getImageData(Math.round((13 + 12 * bit) * scale), Math.round(9 * scale), 1, 1).data;
            if ((r + g + b) / 3 > 128) stamp += 2 ** bit;
          }
          const now = Date.now() % 2 ** 24;
          const latency = (now - stamp + 2 ** 24) % 2 ** 24;
          if (latency < 60000) report.latencies.push(latency / 1000);
        }
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
    hls.loadSource(url);
    hls.attachMedia(video);
    video.play().catch(() => {});
    let firstTime = null;
    const deadline = started + seconds * 1000;
    let nextSwitch = null;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      if (switching && report.firstFrameSeconds !== null && hls.levels.length > 1) {
        nextSwitch ??= performance.now() + 2000;
        if (performance.now() >= nextSwitch) {
          hls.nextLevel = (Math.max(hls.currentLevel, 0) + 1) % hls.levels.length;
          nextSwitch += 2000;
        }
      }
      if (video.currentTime > 0 && report.firstFrameSeconds === null) {
        report.firstFrameSeconds = (performance.now() - started) / 1000;
        firstTime = video.currentTime;
      }
      report.samples.push(video.currentTime);
    }
    if (firstTime !== null) report.advancedSeconds = video.currentTime - firstTime;
    report.latencySeconds = hls.latency;
    hls.destroy();
    return report;
  }, { url, seconds: Number(seconds), lowLatency: lowLatency === "true", stamped: stamped === "true",
       switching: switching === "true" });
  console.log(JSON.stringify(report));
} finally {
  await browser.close();
}
