// Validates easel's OpenAI-shaped bodies against OpenAI's own published OpenAPI document
// (../shared/reference/openai-openapi.yml), so "OpenAI-compatible" is checked against the source,
// not against our reading of it. The schemas the tests use are extracted from that document into
// test/fixtures/openai-schemas.json (scripts/vendor-openai-schemas.js), because a clean clone has
// no ../shared. The document is OpenAPI 3.1 with some 3.0 leftovers (`nullable`), which Ajv's
// 2020-12 validator understands; vendor keywords (x-…) and `discriminator` are ignored.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

type Validate = ((data: unknown) => boolean) & { errors?: unknown[] | null };

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/test/helpers → the project root. */
const projectRoot = path.resolve(here, '..', '..', '..');
export const OPENAI_SCHEMAS_PATH = path.join(projectRoot, 'test', 'fixtures', 'openai-schemas.json');

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

function loadSpec(): Record<string, unknown> {
  return fixNullable(JSON.parse(fs.readFileSync(OPENAI_SCHEMAS_PATH, 'utf8'))) as Record<string, unknown>;
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
  if (!validate) throw new Error(`no schema ${name} in ${OPENAI_SCHEMAS_PATH} (add it to scripts/vendor-openai-schemas.js)`);
  if (!validate(data)) {
    throw new Error(`not a valid OpenAI ${name}: ${JSON.stringify(validate.errors, null, 2)}\n${JSON.stringify(data, (_k, v) => (typeof v === 'string' && v.length > 200 ? `${v.slice(0, 40)}…` : v)).slice(0, 2000)}`);
  }
}
