// The client's types cannot drift from the server. This test reads the declarations in
// src/client/types.ts with the TypeScript compiler and compares them with what a real server
// says about itself:
//   - requests: every field a client type declares exists in /openapi.json's request schema with
//     a type the schema accepts (each literal in the schema's enum, integers where it wants
//     integers, …), and every field the schema requires is required in the client type;
//   - responses (not described in the document): real tasks and lists have only fields the
//     client types declare, with values of the declared types, and every required field.
// The same compile checks that src/client builds without Node's types under a strict consumer's
// flags: it runs in browsers, and its source (the package's "types") checks in strict projects.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { startTestServer, eventually, type TestServer } from '../helpers/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CLIENT_INDEX = path.join(ROOT, 'src/client/index.ts');
const CLIENT_TYPES = path.join(ROOT, 'src/client/types.ts');

type Atom =
  | { kind: 'string' | 'number' | 'boolean'; literal?: string | number | boolean }
  | { kind: 'null' | 'blob' | 'unknown' }
  | { kind: 'array'; items: Atom[] }
  | { kind: 'object'; fields?: Fields };

interface Field {
  optional: boolean;
  atoms: Atom[];
}
type Fields = Map<string, Field>;

type Schema = Record<string, any>;

// ---- the client's declared types, read by the compiler ----

function compileClient(): { program: ts.Program; diagnostics: readonly ts.Diagnostic[] } {
  const program = ts.createProgram([CLIENT_INDEX], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [], // no @types/node: the client must do with what browsers have
    strict: true,
    exactOptionalPropertyTypes: true,
    noPropertyAccessFromIndexSignature: true,
    noUncheckedIndexedAccess: true,
    noImplicitOverride: true,
    noImplicitReturns: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    isolatedModules: true,
    skipLibCheck: true,
    noEmit: true,
  });
  return { program, diagnostics: ts.getPreEmitDiagnostics(program) };
}

function fieldsOfType(type: ts.Type, checker: ts.TypeChecker, at: ts.Node): Fields {
  const fields: Fields = new Map();
  for (const prop of checker.getPropertiesOfType(type)) {
    fields.set(prop.name, {
      optional: (prop.flags & ts.SymbolFlags.Optional) !== 0,
      atoms: atomsOf(checker.getTypeOfSymbolAtLocation(prop, at), checker, at),
    });
  }
  return fields;
}

function atomsOf(type: ts.Type, checker: ts.TypeChecker, at: ts.Node): Atom[] {
  if (type.isUnion()) return type.types.flatMap((t) => atomsOf(t, checker, at));
  const f = type.flags;
  if (f & ts.TypeFlags.Undefined) return [];
  if (f & ts.TypeFlags.Null) return [{ kind: 'null' }];
  if (type.isStringLiteral()) return [{ kind: 'string', literal: type.value }];
  if (type.isNumberLiteral()) return [{ kind: 'number', literal: type.value }];
  if (f & ts.TypeFlags.BooleanLiteral) return [{ kind: 'boolean', literal: checker.typeToString(type) === 'true' }];
  if (f & ts.TypeFlags.String) return [{ kind: 'string' }];
  if (f & ts.TypeFlags.Number) return [{ kind: 'number' }];
  if (f & ts.TypeFlags.Boolean) return [{ kind: 'boolean' }];
  if (f & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) return [{ kind: 'unknown' }];
  if (checker.isArrayType(type)) return [{ kind: 'array', items: atomsOf(checker.getTypeArguments(type as ts.TypeReference)[0]!, checker, at) }];
  const name = type.getSymbol()?.getName();
  if (name === 'Blob' || name === 'File') return [{ kind: 'blob' }];
  if (f & ts.TypeFlags.Object) {
    // Records (index signatures) say nothing about their keys; declared shapes are checked field by field.
    if (checker.getIndexInfosOfType(type).length > 0) return [{ kind: 'object' }];
    return [{ kind: 'object', fields: fieldsOfType(type, checker, at) }];
  }
  throw new Error(`openapi-drift: no rule for the type ${checker.typeToString(type)}`);
}

function declared(program: ts.Program, name: string): Fields {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(CLIENT_TYPES);
  assert.ok(source, 'src/client/types.ts is part of the client');
  const decl = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === name);
  assert.ok(decl, `interface ${name} in src/client/types.ts`);
  return fieldsOfType(checker.getTypeAtLocation(decl.name), checker, decl);
}

// ---- the server's schemas ----

function deref(doc: Schema, schema: Schema): Schema {
  let s = schema;
  while (s && typeof s.$ref === 'string') {
    s = s.$ref.replace(/^#\//, '').split('/').reduce((node: Schema, part: string) => node?.[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
  }
  return s;
}

function accepts(doc: Schema, raw: Schema | undefined, atom: Atom): boolean {
  if (raw === undefined) return false;
  const schema = deref(doc, raw);
  const members = schema.anyOf ?? schema.oneOf;
  if (members) return members.some((m: Schema) => accepts(doc, m, atom));
  if (schema.allOf) return schema.allOf.every((m: Schema) => accepts(doc, m, atom));
  const literal = 'literal' in atom ? atom.literal : undefined;
  if ('const' in schema) return literal === schema.const;
  if (Array.isArray(schema.enum)) return literal !== undefined && schema.enum.includes(literal);
  const types: string[] | undefined = schema.type === undefined ? undefined : [schema.type].flat();
  if (!types) return true;
  switch (atom.kind) {
    case 'string':
      return types.includes('string');
    case 'number':
      return types.includes('number') || (types.includes('integer') && (literal === undefined || Number.isInteger(literal)));
    case 'boolean':
      return types.includes('boolean');
    case 'null':
      return types.includes('null');
    case 'blob':
      return types.includes('string') && schema.format === 'binary';
    case 'array':
      return types.includes('array') && (schema.items === undefined || atom.items.every((i) => accepts(doc, schema.items, i)));
    case 'object':
      return types.includes('object');
    case 'unknown':
      return false;
  }
}

/**
 * Every client field is in the schema with an accepted type; every required schema field is
 * required by the client. `aliases` maps a client field to the schema fields that carry it.
 */
function assertMatchesSchema(doc: Schema, client: Fields, rawSchema: Schema, what: string, aliases: Record<string, string[]> = {}) {
  const schema = deref(doc, rawSchema);
  const props: Record<string, Schema> = schema.properties ?? {};
  for (const [name, field] of client) {
    const targets = aliases[name] ?? [name];
    assert.ok(
      targets.some((t) => t in props),
      `${what}: the client declares '${name}', which the server's schema does not have (it has: ${Object.keys(props).join(', ')})`,
    );
    for (const atom of field.atoms) {
      assert.ok(
        targets.some((t) => accepts(doc, props[t], atom)),
        `${what}.${name}: the client allows ${JSON.stringify(atom)}, the server's schema does not: ${JSON.stringify(targets.map((t) => props[t]))}`,
      );
    }
  }
  const clientNamesOf = (schemaField: string) => [...client.keys()].filter((n) => (aliases[n] ?? [n]).includes(schemaField));
  for (const required of schema.required ?? []) {
    const names = clientNamesOf(required);
    assert.ok(names.length > 0 && names.every((n) => !client.get(n)!.optional), `${what}: the server requires '${required}'; the client type must require it too`);
  }
}

// ---- real values against the declared types ----

function valueMatches(value: unknown, atoms: Atom[], where: string): string | undefined {
  const problems: string[] = [];
  for (const atom of atoms) {
    const problem = matchAtom(value, atom, where);
    if (problem === undefined) return undefined;
    problems.push(problem);
  }
  return problems[0] ?? `${where}: no type declared`;
}

function matchAtom(value: unknown, atom: Atom, where: string): string | undefined {
  const fail = `${where}: ${JSON.stringify(value)} is not ${JSON.stringify(atom)}`;
  switch (atom.kind) {
    case 'unknown':
      return undefined;
    case 'null':
      return value === null ? undefined : fail;
    case 'string':
    case 'number':
    case 'boolean':
      return typeof value === atom.kind && (atom.literal === undefined || atom.literal === value) ? undefined : fail;
    case 'blob':
      return fail;
    case 'array':
      if (!Array.isArray(value)) return fail;
      for (const [i, item] of value.entries()) {
        const p = valueMatches(item, atom.items, `${where}[${i}]`);
        if (p) return p;
      }
      return undefined;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail;
      return atom.fields ? objectProblem(value as Record<string, unknown>, atom.fields, where) : undefined;
  }
}

function objectProblem(value: Record<string, unknown>, fields: Fields, where: string): string | undefined {
  for (const key of Object.keys(value)) {
    const field = fields.get(key);
    if (!field) return `${where}: the server sent '${key}', which the client type does not declare`;
    const p = valueMatches(value[key], field.atoms, `${where}.${key}`);
    if (p) return p;
  }
  for (const [key, field] of fields) {
    if (!field.optional && !(key in value)) return `${where}: the client type requires '${key}', which the server did not send`;
  }
  return undefined;
}

function assertShape(value: unknown, fields: Fields, what: string) {
  const problem = matchAtom(value, { kind: 'object', fields }, what);
  assert.equal(problem, undefined, problem);
}

describe("the client's types match the server", () => {
  let s: TestServer;
  let doc: Schema;
  let compiled: ReturnType<typeof compileClient>;

  before(async () => {
    s = await startTestServer();
    const res = await fetch(`${s.url}/openapi.json`);
    assert.equal(res.status, 200);
    doc = (await res.json()) as Schema;
    compiled = compileClient();
  });
  after(async () => s?.close());

  it('src/client compiles for browsers (no Node types) under strict consumer flags', () => {
    const text = ts.formatDiagnostics(compiled.diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' });
    assert.equal(compiled.diagnostics.length, 0, text);
    const files = compiled.program.getSourceFiles().map((f) => f.fileName).filter((f) => !f.includes('/node_modules/'));
    assert.ok(files.length > 1 && files.every((f) => f.startsWith(path.join(ROOT, 'src/client/'))), `only src/client/** is compiled: ${files.join(', ')}`);
  });

  const generationBody = (has: string): Schema => {
    const schema = deref(doc, doc.paths['/v1/images/generations'].post.requestBody.content['application/json'].schema);
    const member = (schema.anyOf ?? [schema]).map((m: Schema) => deref(doc, m)).find((m: Schema) => has in (m.properties ?? {}));
    assert.ok(member, `a generation body with '${has}' in /openapi.json`);
    return member;
  };

  it('UnifiedGenerateParams matches the seed 002 body of POST /v1/images/generations', () => {
    assertMatchesSchema(doc, declared(compiled.program, 'UnifiedGenerateParams'), generationBody('image_urls'), 'UnifiedGenerateParams');
  });

  it('OpenAIGenerateParams matches the OpenAI body of POST /v1/images/generations', () => {
    assertMatchesSchema(doc, declared(compiled.program, 'OpenAIGenerateParams'), generationBody('output_format'), 'OpenAIGenerateParams');
  });

  it('EditParams matches the multipart form of POST /v1/images/edits', () => {
    const form = doc.paths['/v1/images/edits']?.post?.requestBody?.content?.['multipart/form-data']?.schema;
    assert.ok(form, 'POST /v1/images/edits documents its multipart form');
    assertMatchesSchema(doc, declared(compiled.program, 'EditParams'), form, 'EditParams', { image: ['image', 'image[]'] });
  });

  it('TaskListParams matches the query of GET /v1/tasks', () => {
    const parameters: Schema[] = (doc.paths['/v1/tasks'].get.parameters ?? []).map((p: Schema) => deref(doc, p)).filter((p: Schema) => p.in === 'query');
    const asSchema = {
      type: 'object',
      properties: Object.fromEntries(parameters.map((p) => [p.name, p.schema])),
      required: parameters.filter((p) => p.required).map((p) => p.name),
    };
    assertMatchesSchema(doc, declared(compiled.program, 'TaskListParams'), asSchema, 'TaskListParams');
  });

  it('Task and TaskList describe real answers: submit, completed, failed, cancelled, list', async () => {
    const task = declared(compiled.program, 'Task');
    const submit = async (body: Record<string, unknown>) => {
      const r = await s.api('POST', '/v1/images/generations', { model: 'gpt-4o-image', ...body });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body;
    };
    const settled = (id: string) =>
      eventually(async () => {
        const r = await s.api('GET', `/v1/tasks/${id}`);
        return ['completed', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
      }, 15_000, `task ${id}`);

    const submitted = await submit({ prompt: 'a kite [[easel:produce=1]]', n: 2, client_business_id: 'drift-1', metadata: { a: 1 } });
    assertShape(submitted, task, 'submit answer');
    const completed = await settled(submitted.id);
    assert.equal(completed.status, 'completed');
    assert.ok(completed.warnings?.length, 'a completed task with warnings');
    assertShape(completed, task, 'completed task');

    const failed = await settled((await submit({ prompt: 'no [[easel:policy]]' })).id);
    assert.equal(failed.status, 'failed');
    assertShape(failed, task, 'failed task');

    const slow = await submit({ prompt: 'slow [[easel:delay=20000]]' });
    const cancelled = await s.api('POST', `/v1/tasks/${slow.id}/cancel`);
    assertShape(cancelled.body, task, 'cancelled task');

    const list = await s.api('GET', '/v1/tasks?limit=2');
    assertShape(list.body, declared(compiled.program, 'TaskList'), 'task list');
  });
});
