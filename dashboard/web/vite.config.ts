import { defineConfig } from "vite";

// The pages are served by the sigma binary (dashboard/src/lib.rs): the dashboard (index.html)
// and the player page (embed.html), assets under /assets/ with their content hash in their
// names, no inline script (the Content-Security-Policy forbids it).
export default defineConfig({
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    modulePreload: { polyfill: false },
    target: "es2020",
    sourcemap: false,
    // hls.js (about 180 KB gzipped) is its own chunk, loaded only by a page that plays
    // something; the channel list does not load it.
    chunkSizeWarningLimit: 600,
    rollupOptions: { input: { dashboard: "index.html", player: "embed.html" } },
  },
});
