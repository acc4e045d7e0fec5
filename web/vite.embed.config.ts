import { defineConfig } from "vite";

// callpop.js, the client other systems' pages embed (src/embed/), built
// beside the app into dist/ as one classic script with the global
// `CallPop`; the daemon serves it at /callpop.js.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: false,
    lib: {
      entry: "src/embed/callpop.ts",
      name: "CallPop",
      formats: ["iife"],
      fileName: () => "callpop.js",
    },
  },
});
