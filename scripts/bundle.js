#!/usr/bin/env node
// Bundles the compiled server (dist/src/main.js) into dist/bin/ with esbuild, for `npm start` and
// the `easel` bin. Node loads an ES module graph file by file: easel's own 160 modules plus
// typebox's 680, kysely's 260 and openai's 150 took most of a cold start (about 2 of 3 seconds on
// the benchmark machine, bench/ and README "Performance"). One file per lazily loaded part loads
// in a fraction of that. The tests keep running the unbundled tsc output in dist/src: the same
// source, so the bundle only changes how it is packaged.
//
// Pure-JavaScript packages are bundled; packages with native code (better-sqlite3, sharp), with
// files they find next to themselves at run time (fastify's plugins, pino's worker threads), or
// that are loaded only for an optional backend (pg, ioredis, the AWS SDK) stay in node_modules.
// So do CommonJS packages that easel imports lazily (undici): a split-off chunk of bundled
// CommonJS has only a default export, where node's own loader gives the named ones.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const BUNDLED = new Set([
  'typebox',
  'kysely',
  'openai',
  'yaml',
  'commander',
  'ipaddr.js',
  'standardwebhooks',
  'gpt-tokenizer',
  'file-type',
  'strtok3',
  'token-types',
  '@tokenizer/inflate',
  '@tokenizer/token',
  'uint8array-extras',
  '@borewit/text-codec',
]);

const packageOf = (specifier) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]);

// Chunk names carry hashes: clear the last build's, so stale ones do not pile up.
fs.rmSync(path.join(root, 'dist/bin'), { recursive: true, force: true });

await build({
  // easel.js: the CLI (bin/easel.js, npm start); index.js: the library (`import … from 'easel'`).
  entryPoints: { easel: path.join(root, 'dist/src/main.js'), index: path.join(root, 'dist/src/index.js') },
  outdir: path.join(root, 'dist/bin'),
  bundle: true,
  // Dynamic imports stay lazy: each becomes a chunk loaded when first needed.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Stack traces need the mappings, not the sources; without them the maps parse 10× faster at start.
  sourcesContent: false,
  logLevel: 'warning',
  chunkNames: 'chunks/[name]-[hash]',
  // Bundled CommonJS (undici) calls require() for node's own modules.
  banner: { js: "import { createRequire as __easelCreateRequire } from 'node:module'; const require = __easelCreateRequire(import.meta.url);" },
  plugins: [
    {
      name: 'easel-externals',
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) => {
          if (args.path.startsWith('node:') || BUNDLED.has(packageOf(args.path))) return undefined;
          return { path: args.path, external: true };
        });
      },
    },
  ],
});
