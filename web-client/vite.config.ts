/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Switchboard server serves `dist/` at `/` (unknown non-API paths get
// index.html), so the build uses base `/` with hashed files under `/assets/`.
// `npm run dev` proxies the API and the socket to a server on :3001, so the
// pages work same-origin in development too.
const devServer = process.env.SWITCHBOARD_URL ?? 'http://localhost:3001';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', assetsDir: 'assets', emptyOutDir: true },
  server: {
    proxy: {
      '/api': devServer,
      '/health': devServer,
      '/socket.io': { target: devServer, ws: true },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['test/**/*.test.{ts,tsx}'],
    // Each test file spawns its own real server; hook tests wait on real events.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
