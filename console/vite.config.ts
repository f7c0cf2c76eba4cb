// The web console: a React app built to dist/console/ and served by easel itself at /console
// (src/http/console-routes.ts). Everything it needs is bundled, so it works offline.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/console/',
  plugins: [react()],
  publicDir: false,
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/console', import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
    // One small app: a single chunk, no preload polyfill (nothing is loaded from elsewhere).
    modulePreload: { polyfill: false },
  },
});
