/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// One app, two routes: `/` (the public form, small) and `/admin` (a lazy
// chunk). The dev server proxies the API to a local `make run`.
const api = "http://127.0.0.1:8080";
const apiPaths = ["/prospects", "/auth", "/captcha", "/forms", "/f/", "/astro.v1.", "/grpc.health.v1."];

export default defineConfig({
  plugins: [react()],
  build: { target: "es2022", sourcemap: false },
  worker: { format: "es" },
  server: { proxy: Object.fromEntries(apiPaths.map((p) => [p, api])) },
  test: {
    projects: [
      { extends: true, test: { name: "unit", include: ["src/**/*.test.ts"], environment: "node" } },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        extends: true,
        test: { name: "bench", include: ["bench/**/*.test.ts"], environment: "node", testTimeout: 600_000, hookTimeout: 600_000 },
      },
    ],
  },
});
