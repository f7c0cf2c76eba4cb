// One validation mechanism for every route: TypeBox schemas, compiled once. Fastify uses it for
// route schemas (validatorCompiler below) and handlers that must choose a schema at run time
// (the shared /v1/images/generations) call checkBody with the same schemas, so the OpenAPI
// document and the validation can never disagree. Failures become EaselErrors with a sentence a
// person can act on, naming the field.
import type { FastifySchemaCompiler } from 'fastify';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';
import type { TSchema, Static } from 'typebox';
import { EaselError } from '../core/errors.js';

interface SchemaError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message: string;
}

const compiled = new WeakMap<object, ReturnType<typeof Compile>>();

function compile(schema: TSchema): ReturnType<typeof Compile> {
  let c = compiled.get(schema);
  if (!c) {
    c = Compile(schema);
    compiled.set(schema, c);
  }
  return c;
}

function fieldName(path: string): string {
  return path.replace(/^\//, '').replace(/\/(\d+)(?=\/|$)/g, '[$1]').replace(/\//g, '.');
}

function describe(value: unknown): string {
  return typeof value === 'string' ? `"${value}"` : String(value);
}

/**
 * The values a field of `schema` may take when it is a union of literals (sizes, n, enums), read
 * from the schema itself: TypeBox buffers only a few errors (a guard against costly bodies), so a
 * wrong value of the wrong type (null for a size) reports just some of the literals.
 */
function literalsAt(schema: TSchema | undefined, instancePath: string): unknown[] | undefined {
  let node = schema as Record<string, unknown> | undefined;
  for (const segment of instancePath.split('/').slice(1)) {
    if (!node) return undefined;
    const key = segment.replace(/~1/g, '/').replace(/~0/g, '~');
    const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
    node = properties?.[key] ?? (/^\d+$/.test(key) ? (node.items as Record<string, unknown> | undefined) : undefined);
  }
  const variants = node?.anyOf as Array<Record<string, unknown>> | undefined;
  if (!Array.isArray(variants) || variants.length === 0 || !variants.every((v) => 'const' in v)) return undefined;
  return variants.map((v) => v.const);
}

/** Turns schema errors into one sentence about the first field that is wrong. */
export function explainErrors(errors: SchemaError[], schema?: TSchema): { message: string; param: string | undefined } {
  // TypeBox reports an unknown field twice: as "schema is false" at the field, then as
  // additionalProperties on its parent; the second says what a person needs to hear.
  const extra = errors.find((e) => e.keyword === 'additionalProperties');
  if (extra) {
    const names = (extra.params.additionalProperties as string[] | string | undefined) ?? [];
    const field = Array.isArray(names) ? names[0] : names;
    const base = fieldName(extra.instancePath);
    const name = base ? `${base}.${field}` : String(field);
    return { message: `Unknown field '${name}'.`, param: name };
  }
  const first = errors.find((e) => e.keyword !== 'anyOf' && e.keyword !== 'boolean') ?? errors[0];
  if (!first) return { message: 'The request is not valid.', param: undefined };
  if (first.keyword === 'required') {
    const missing = (first.params.requiredProperties as string[] | undefined)?.[0] ?? 'a field';
    const base = fieldName(first.instancePath);
    const name = base ? `${base}.${missing}` : missing;
    return { message: `'${name}' is required.`, param: name };
  }
  const path = first.instancePath;
  const name = fieldName(path) || 'body';
  const onPath = errors.filter((e) => e.instancePath === path);
  const allowed = literalsAt(schema, path) ?? onPath.filter((e) => e.keyword === 'const').map((e) => e.params.allowedValue);
  if (allowed.length > 0 || onPath.some((e) => e.keyword === 'enum')) {
    const values = allowed.length > 0 ? allowed : ((onPath.find((e) => e.keyword === 'enum')?.params.allowedValues as unknown[]) ?? []);
    return { message: `'${name}' must be one of ${values.map(describe).join(', ')}.`, param: name };
  }
  const p = first.params;
  switch (first.keyword) {
    case 'type':
      return { message: `'${name}' must be ${article(String(p.type))}.`, param: name };
    case 'maxItems':
      return { message: `'${name}' may hold at most ${p.limit} items.`, param: name };
    case 'minItems':
      return { message: `'${name}' must hold at least ${p.limit} items.`, param: name };
    case 'maxLength':
      return { message: `'${name}' must be at most ${p.limit} characters long.`, param: name };
    case 'minLength':
      return { message: Number(p.limit) === 1 ? `'${name}' must not be empty.` : `'${name}' must be at least ${p.limit} characters long.`, param: name };
    case 'minimum':
    case 'maximum':
      return { message: `'${name}' ${first.message}.`, param: name };
    case 'pattern':
    case 'format':
      return { message: `'${name}' is not in the expected format.`, param: name };
    default:
      return { message: `'${name}' ${first.message}.`, param: name };
  }
}

function article(type: string): string {
  const t = type === 'integer' ? 'a whole number' : type === 'array' ? 'an array' : type === 'object' ? 'an object' : `a ${type}`;
  return t;
}

/** Validates `value` against `schema`; throws an invalid_request EaselError naming the field. */
export function checkBody<S extends TSchema>(schema: S, value: unknown): Static<S> {
  const c = compile(schema);
  if (value === undefined || value === null || typeof value !== 'object' || Array.isArray(value)) {
    if ((schema as { type?: string }).type === 'object') {
      throw new EaselError('invalid_request', 'The request body must be a JSON object.');
    }
  }
  if (c.Check(value)) return value as Static<S>;
  const { message, param } = explainErrors([...c.Errors(value)] as SchemaError[], schema);
  throw new EaselError('invalid_request', message, param === undefined ? {} : { param });
}

/**
 * Whether a path or query schema can turn a string into something else (a number, a boolean).
 * One whose fields are all plain strings cannot, so its values are checked as they come: the
 * conversion walks the schema for every request (a few per cent of a poll, bench/ "poll").
 */
function converts(schema: TSchema): boolean {
  const fields = (schema as { type?: unknown; properties?: Record<string, { type?: unknown; anyOf?: unknown; allOf?: unknown; oneOf?: unknown }> }).properties;
  if ((schema as { type?: unknown }).type !== 'object' || fields === undefined) return true;
  return Object.values(fields).some((f) => f.type !== 'string' || f.anyOf !== undefined || f.allOf !== undefined || f.oneOf !== undefined);
}

/** Fastify's validator: the same compiled schemas; query strings and params are converted first when they can hold more than strings. */
export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const c = compile(schema);
  const convert = httpPart !== 'body' && converts(schema);
  return (value: unknown) => {
    const converted = convert ? Value.Convert(schema, value) : value;
    if (c.Check(converted)) return { value: converted };
    if (httpPart === 'body' && (value === null || typeof value !== 'object' || Array.isArray(value))) {
      return { error: new EaselError('invalid_request', 'The request body must be a JSON object.') };
    }
    const { message, param } = explainErrors([...c.Errors(converted)] as SchemaError[], schema);
    return { error: new EaselError('invalid_request', message, param === undefined ? {} : { param }) };
  };
};
