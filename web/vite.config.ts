import { defineConfig } from "vitest/config";
import vue from "@vitejs/plugin-vue";

// The app is served by the daemon from assets embedded in its binary
// (build.rs reads dist/). `npm run dev` proxies the API to a local daemon.
export default defineConfig({
  plugins: [vue()],
  build: {
    outDir: "dist",
    assetsDir: "assets",
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:8080",
      "/ws": { target: "ws://127.0.0.1:8080", ws: true },
    },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
  },
});
