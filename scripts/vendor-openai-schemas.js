#!/usr/bin/env node
// Copies the parts of OpenAI's published OpenAPI document that the tests validate against into
// test/fixtures/openai-schemas.json: the named component schemas and every schema they reference.
// The full document (3 MB of YAML) lives outside the repository, in ../shared/reference, which a
// clean clone does not have; the extract is small, loads in milliseconds and is committed.
// Run again after the reference document changes:
//   node scripts/vendor-openai-schemas.js [path/to/openai-openapi.yml]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const source = process.argv[2] ?? path.resolve(root, '..', 'shared', 'reference', 'openai-openapi.yml');
const out = path.join(root, 'test', 'fixtures', 'openai-schemas.json');

// The schemas the tests name; their references are followed.
const wanted = [
  'ImagesResponse',
  'ImageGenStreamEvent',
  'ImageGenPartialImageEvent',
  'ImageGenCompletedEvent',
  'ImageEditStreamEvent',
  'ImageEditPartialImageEvent',
  'ImageEditCompletedEvent',
  'CreateImageRequest',
  'CreateImageEditRequest',
  'ErrorResponse',
  'ListModelsResponse',
  'Model',
  'CreateChatCompletionResponse',
  'CreateChatCompletionStreamResponse',
];

const doc = parse(fs.readFileSync(source, 'utf8'));
const all = doc.components.schemas;
const picked = {};
const visit = (node) => {
  if (Array.isArray(node)) return node.forEach(visit);
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/')) take(v.slice('#/components/schemas/'.length));
    else visit(v);
  }
};
const take = (name) => {
  if (picked[name]) return;
  if (!all[name]) throw new Error(`no schema ${name} in ${source}`);
  picked[name] = all[name];
  visit(all[name]);
};
wanted.forEach(take);
const sorted = Object.fromEntries(Object.keys(picked).sort().map((k) => [k, picked[k]]));
const extract = {
  $comment: `Extracted from OpenAI's OpenAPI document (${path.basename(source)}, info.version ${doc.info?.version}) by scripts/vendor-openai-schemas.js; do not edit by hand.`,
  openapi: doc.openapi,
  components: { schemas: sorted },
};
fs.writeFileSync(out, `${JSON.stringify(extract, null, 1)}\n`);
console.log(`${Object.keys(sorted).length} schemas → ${path.relative(root, out)} (${fs.statSync(out).size} bytes)`);
