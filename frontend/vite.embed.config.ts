// `embed.js`: the form for other sites' pages, one classic script (no
// modules, no second file: the proof of work's worker is made from it),
// built after the app into the same `dist/`.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    target: "es2022",
    emptyOutDir: false,
    copyPublicDir: false,
    sourcemap: false,
    lib: { entry: "src/form/embed.ts", name: "AstroQualif", formats: ["iife"], fileName: () => "embed.js" },
  },
});
