// Validates easel's OpenAI-shaped bodies against OpenAI's own published OpenAPI document
// (../shared/reference/openai-openapi.yml), so "OpenAI-compatible" is checked against the source,
// not against our reading of it. The document is OpenAPI 3.1 with some 3.0 leftovers (`nullable`),
// which Ajv's 2020-12 validator understands; vendor keywords (x-…) and `discriminator` are ignored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null };

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/helpers → the project root, whose sibling is shared/. */
const projectRoot = path.resolve(here, '..', '..', '..');
export const OPENAI_SPEC_PATH = process.env.EASEL_OPENAI_SPEC ?? path.resolve(projectRoot, '..', 'shared', 'reference', 'openai-openapi.yml');

// CommonJS modules seen through NodeNext: the class is the default export's default.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as unknown as new (opts: object) => {
  addSchema(schema: object, key: string): void;
  addFormat(name: string, format: unknown): void;
  getSchema(ref: string): Validate | undefined;
};
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: object) => void;

let ajv: InstanceType<typeof Ajv2020> | undefined;

/** OpenAPI 3.0's `nullable: true` (left over in places) as 2020-12 says it: anyOf the schema or null. */
function fixNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(fixNullable);
  if (node === null || typeof node !== 'object') return node;
  const { nullable, ...rest } = node as Record<string, unknown>;
  const fixed = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, fixNullable(v)]));
  return nullable === true ? { anyOf: [fixed, { type: 'null' }] } : fixed;
}

/**
 * The parsed document. Parsing 3 MB of YAML takes seconds, so the result is kept as JSON in the
 * temp directory, keyed by the file's size and time, and read from there by later test files.
 */
function loadSpec(): Record<string, unknown> {
  const stat = fs.statSync(OPENAI_SPEC_PATH);
  const cache = path.join(os.tmpdir(), `easel-openai-spec-${stat.size}-${Math.floor(stat.mtimeMs)}.json`);
  try {
    return JSON.parse(fs.readFileSync(cache, 'utf8')) as Record<string, unknown>;
  } catch {
    const doc = fixNullable(parse(fs.readFileSync(OPENAI_SPEC_PATH, 'utf8'))) as Record<string, unknown>;
    const tmp = `${cache}.${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(doc));
    fs.renameSync(tmp, cache);
    return doc;
  }
}

function instance() {
  if (ajv) return ajv;
  const doc = loadSpec();
  const a = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
  addFormats(a);
  for (const name of ['unixtime', 'binary', 'int64', 'int32', 'double', 'float']) a.addFormat(name, true);
  a.addSchema(doc, 'openai');
  ajv = a;
  return a;
}

/** Throws with Ajv's errors when `data` is not a valid `components.schemas[name]`. */
export function assertOpenAISchema(name: string, data: unknown): void {
  const validate = instance().getSchema(`openai#/components/schemas/${name}`);
  if (!validate) throw new Error(`no schema ${name} in ${OPENAI_SPEC_PATH}`);
  if (!validate(data)) {
    throw new Error(`not a valid OpenAI ${name}: ${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(data, (_k, v) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 40)}…` : v)).slice(0, 2000)}`);
  }
}
