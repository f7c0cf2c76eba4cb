// The malformed requests the bad-input suite throws at easel, as fast-check arbitraries, one
// group per dialect: a valid request of the dialect taken apart — fields dropped, added, given the
// wrong type, huge or empty strings, deep JSON, invalid UTF-8, the wrong content type, a cut-off
// body or multipart form, absurd headers, odd paths and query strings — and the rule each answer
// must keep: never a 5xx, and every refusal in the dialect's own error envelope.
import fc from 'fast-check';
import { OPENAI_IMAGE_MODELS } from '../../src/core/models.js';
import { buildRequest } from './chaos.js';

export type Dialect = 'unified' | 'openai' | 'chat' | 'kie';

export interface FuzzCase {
  group: string;
  label: string;
  method: string;
  path: string;
  headers: Array<[string, string]>;
  body: Buffer | undefined;
  /** The envelopes an error answer may use (the shared generations route has two dialects). */
  dialects: Dialect[];
}

export interface Fixtures {
  key: string;
  /** A task of the fuzzing key, so routes reach past "no such task" sometimes. */
  taskId: string;
  /** kie's task id form of a task (kie tasks are named task_4o_…). */
  kieTaskId: string;
  /** A result URL of the task (for kie's download-url). */
  resultUrl: string;
  /** A non-admin key's id, for the admin routes. */
  otherKeyId: string;
  /** A small real PNG for multipart uploads. */
  png: Buffer;
}

// ---------------------------------------------------------------------------------------------
// Values

const SPECIAL_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\ud800',
  '\udfff\ud800',
  '\u202e\u0041',
  '💥🔥'.repeat(200),
  '../../../../etc/passwd',
  '%00%ff%zz',
  '${jndi:ldap://x}',
  '<script>alert(1)</script>',
  "' OR 1=1 --",
  'null',
  'undefined',
  '__proto__',
  'constructor',
  'NaN',
  '-1',
  '1e999',
  'data:image/png;base64,',
  'data:image/png;base64,!!!!',
  'data:text/html,<b>x</b>',
  'http://127.0.0.1/x.png',
  'http://[::1]:80/x.png',
  'http://169.254.169.254/latest/meta-data/',
  'file:///etc/passwd',
  'https://',
  'https://example.invalid/x.png',
  'gopher://x',
  '1024x1024x1024',
  '99999999999x99999999999',
  '0x0',
  '1:0',
  'gpt-4o-image\u0000',
  '[[easel:hang]]',
];

const str = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 1_500_000 }).map((n) => 'x'.repeat(n)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 60_000 }).map((n) => 'ü'.repeat(n)) },
  // Long runs of one kind (a "word", spaces, CJK): the tokenizer once took minutes on these.
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(' ', '\n', '猫', '!?', 'ab'), fc.integer({ min: 1_000, max: 300_000 })).map(([c, n]) => c.repeat(n)) },
);

/** JSON text of a value of any type (raw text, so 1e999, -0 and deep nesting can be sent). */
const valueText: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: str.map((s) => JSON.stringify(s)) },
  { weight: 2, arbitrary: fc.integer().map(String) },
  { weight: 1, arbitrary: fc.constantFrom('1e999', '-1e999', '-0', '0.5', '1.0000000000000002', '9007199254740993', '-9007199254740993', '1e-400', '4.0') },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)) },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false', 'null', '[]', '{}', '""', '[null]', '{"":""}') },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: fc.array(str, { maxLength: 8 }).map((a) => JSON.stringify(a)) },
  { weight: 1, arbitrary: deep() },
);

function deep(): fc.Arbitrary<string> {
  return fc
    .tuple(fc.integer({ min: 500, max: 200_000 }), fc.constantFrom('[', '{"a":'))
    .map(([depth, open]) => open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth));
}

const FIELD_NAMES_EXTRA = ['__proto__', 'constructor', 'prototype', '', ' ', 'model ', 'Model', 'PROMPT', '$where', 'a'.repeat(5000), '\u0000'];
const fieldName = (known: string[]) =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...known) }, { weight: 2, arbitrary: fc.constantFrom(...FIELD_NAMES_EXTRA) }, { weight: 1, arbitrary: fc.string({ maxLength: 20 }) });

type Pairs = Array<[string, string]>;

type Op = { del: string } | { set: string; value: string } | { dup: string; value: string };

const op = (known: string[]): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...known).map((f) => ({ del: f })) },
    { weight: 5, arbitrary: fc.record({ set: fieldName(known), value: valueText }) },
    { weight: 1, arbitrary: fc.record({ dup: fc.constantFrom(...known), value: valueText }) },
  );

function applyOps(base: Pairs, ops: Op[]): Pairs {
  let pairs = [...base];
  for (const o of ops) {
    if ('del' in o) pairs = pairs.filter(([k]) => k !== o.del);
    else if ('set' in o) {
      const i = pairs.findIndex(([k]) => k === o.set);
      if (i >= 0) pairs[i] = [o.set, o.value];
      else pairs.push([o.set, o.value]);
    } else pairs.push([o.dup, o.value]); // the same key twice
  }
  return pairs;
}

const objectText = (pairs: Pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;

const WHOLE_BODIES = ['', 'null', '[]', '[{}]', '"a string"', '42', 'true', '1e999', '{', '{"model":', '{"a":}', '{,}', 'NaN', "{'model':'x'}", '{"model":"gpt-4o-image"}}', '\u0000', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"x":1}}}', '<xml/>', 'model=gpt-4o-image&prompt=x'];

/** The bytes of a JSON body: the base object mutated, or something that is no JSON object at all. */
function jsonBody(base: Pairs): fc.Arbitrary<{ text: string; label: string }> {
  const known = base.map(([k]) => k);
  return fc.oneof(
    { weight: 8, arbitrary: fc.array(op(known), { minLength: 1, maxLength: 4 }).map((ops) => ({ text: objectText(applyOps(base, ops)), label: `ops ${ops.map((o) => ('del' in o ? `-${o.del}` : 'set' in o ? `${o.set.slice(0, 20)}=${o.value.slice(0, 30)}` : `dup ${o.dup}`)).join(' ')}` })) },
    { weight: 1, arbitrary: fc.constantFrom(...WHOLE_BODIES).map((text) => ({ text, label: `whole ${JSON.stringify(text)}` })) },
    { weight: 1, arbitrary: deep().map((text) => ({ text, label: `deep body ${text.length}` })) },
  );
}

const INVALID_UTF8 = [Buffer.from([0xff]), Buffer.from([0xc3, 0x28]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from([0xe2, 0x82]), Buffer.from([0xc0, 0xaf])];

type ByteMutation = { kind: 'none' } | { kind: 'truncate'; at: number } | { kind: 'utf8'; at: number; bytes: number } | { kind: 'bom' } | { kind: 'utf16' };

const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ kind: 'truncate' as const, at })) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('utf8' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.nat(INVALID_UTF8.length - 1) }) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'bom' as const }, { kind: 'utf16' as const }) },
);

function mutateBytes(text: string, m: ByteMutation): Buffer {
  const buf = Buffer.from(text, 'utf8');
  switch (m.kind) {
    case 'none':
      return buf;
    case 'truncate':
      return buf.subarray(0, Math.floor(buf.length * m.at));
    case 'utf8': {
      // Inside a string value when there is one, so the JSON stays JSON but stops being UTF-8.
      const quote = buf.indexOf('"', Math.floor(buf.length * m.at));
      const at = quote >= 0 ? quote + 1 : Math.floor(buf.length * m.at);
      return Buffer.concat([buf.subarray(0, at), INVALID_UTF8[m.bytes]!, buf.subarray(at)]);
    }
    case 'bom':
      return Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), buf]);
    case 'utf16':
      return Buffer.from(text, 'utf16le');
  }
}

// ---------------------------------------------------------------------------------------------
// Headers

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json;;;',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'multipart/form-data; boundary=zzz',
  'application/octet-stream',
  'image/png',
  'application/xml',
  '*/*',
  '',
  ';',
  'application/json, text/plain',
  'x'.repeat(3000),
];

const headerValue = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 60 }).map((s) => s.replace(/[\r\n]/g, '')) },
  { weight: 1, arbitrary: fc.integer({ min: 256, max: 12_000 }).map((n) => 'v'.repeat(n)) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '\u00ff\u00fe', '\u0080', 'a\tb', '0', '-1', '99999999999999999999') },
);

type HeaderPlan = { contentType: 'default' | 'none' | string; auth: 'valid' | 'none' | string; extras: Array<[string, string]> };

const authHeader = fc.oneof(
  { weight: 12, arbitrary: fc.constant('valid') },
  { weight: 1, arbitrary: fc.constant('none') },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'bearer sk-nope', 'Bearer sk-easel-' + 'z'.repeat(40), 'Bearer a b c', 'Token x'),
      fc.integer({ min: 1000, max: 14_000 }).map((n) => `Bearer ${'k'.repeat(n)}`),
      headerValue.map((v) => `Bearer ${v}`),
    ),
  },
);

const EXTRA_HEADER_NAMES = ['Idempotency-Key', 'Prefer', 'Last-Event-ID', 'Accept', 'Accept-Encoding', 'X-Forwarded-For', 'X-Request-Id', 'Origin', 'Cookie', 'User-Agent', 'Range', 'If-None-Match', 'Content-Encoding', 'Expect'];
const PREFER = ['respond-async', 'wait', 'wait=0', 'wait=1', 'wait=-1', 'wait=99999999999999999999', 'wait=1.5', 'respond-async, wait=5', 'return=minimal', 'wait=abc'];

const extraHeader: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...EXTRA_HEADER_NAMES), headerValue) },
  { weight: 2, arbitrary: fc.tuple(fc.constant('Prefer'), fc.constantFrom(...PREFER)) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('Content-Encoding'), fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'zstd', 'x-nope')) },
  { weight: 1, arbitrary: fc.tuple(fc.constant('Expect'), fc.constantFrom('100-continue', '200-ok')) },
  { weight: 1, arbitrary: fc.tuple(fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 30 }).map((s) => s.replace(/[\r\n:]/g, '') || 'X'), headerValue) },
);

const headerPlan: fc.Arbitrary<HeaderPlan> = fc.record({
  contentType: fc.oneof({ weight: 10, arbitrary: fc.constant('default') }, { weight: 1, arbitrary: fc.constant('none') }, { weight: 3, arbitrary: fc.constantFrom(...CONTENT_TYPES) }),
  auth: authHeader,
  extras: fc.oneof(
    { weight: 6, arbitrary: fc.array(extraHeader, { maxLength: 3 }) },
    // Absurd: hundreds of headers, or one past Node's 16 KB header limit.
    { weight: 1, arbitrary: fc.integer({ min: 50, max: 400 }).map((n) => Array.from({ length: n }, (_, i): [string, string] => [`X-Pad-${i}`, 'p'.repeat(20)])) },
    { weight: 1, arbitrary: fc.integer({ min: 17_000, max: 40_000 }).map((n): Array<[string, string]> => [['X-Huge', 'h'.repeat(n)]]) },
  ),
});

function headersOf(plan: HeaderPlan, key: string, defaultType: string | undefined): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (plan.auth === 'valid') out.push(['Authorization', `Bearer ${key}`]);
  else if (plan.auth !== 'none') out.push(['Authorization', plan.auth]);
  if (plan.contentType === 'default') {
    if (defaultType) out.push(['Content-Type', defaultType]);
  } else if (plan.contentType !== 'none') out.push(['Content-Type', plan.contentType]);
  return [...out, ...plan.extras];
}

// ---------------------------------------------------------------------------------------------
// Paths and query strings

// Raw bytes above 0x7f (written as latin1) are invalid UTF-8 in the request line itself.
const ODD_SEGMENTS = ['%zz', '%', '%00', '%2F', '..', '.', '%2e%2e', 'task-unified-1757156493-imcg5zqt', 'task_4o_0', 'img_00', 'key_0', '%F0%9F%92%A5', '%ff%fe', ' ', '*', 'a'.repeat(3000), '0', '-1', 'null', '\u00ff\u00fe', 'caf\u00e9', '\u00c3\u0028', 'x;y', 'x#y', '~', '%u0041'];

const segment = (real: string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...real) },
    { weight: 3, arbitrary: fc.constantFrom(...ODD_SEGMENTS) },
    { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map((s) => encodeURIComponent(s) || 'x') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }).map((s) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, '')) || 'y') },
  );

const queryValue = fc.oneof(
  fc.string({ maxLength: 30 }).map(encodeURIComponent),
  fc.constantFrom('', '%zz', '%', '-1', '0', '1', '1e999', '99999999999999999999', 'true', 'maybe', 'null', '[]', 'a'.repeat(5000), 'queued', 'succeeded', '\u00ff\u00fe', 'a[b]=c', '__proto__', '1.5', '0x10', ' 1', '1,2'),
  fc.integer().map(String),
);

function queryString(names: string[]): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...names), fc.string({ maxLength: 10 }).map(encodeURIComponent)), queryValue), { maxLength: 5 })
    .chain((pairs) => fc.constantFrom('', '?', '?&&', '?=&=').map((junk) => (pairs.length === 0 ? junk : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`)));
}

// ---------------------------------------------------------------------------------------------
// Multipart (POST /v1/images/edits)

type Part = { name: string; filename?: string; type?: string; data: Buffer };

function multipartBytes(parts: Part[], boundary: string): Buffer {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.filename !== undefined) head += `; filename="${p.filename}"`;
    head += '\r\n';
    if (p.type) head += `Content-Type: ${p.type}\r\n`;
    chunks.push(Buffer.from(head + '\r\n', 'utf8'), p.data, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

type MultipartMutation =
  | { kind: 'none' }
  | { kind: 'truncate'; at: number }
  | { kind: 'no-closing' }
  | { kind: 'wrong-boundary' }
  | { kind: 'no-boundary' }
  | { kind: 'garbage-part-header' }
  | { kind: 'utf8'; at: number };

const multipartMutation: fc.Arbitrary<MultipartMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 3, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ kind: 'truncate' as const, at })) },
  { weight: 1, arbitrary: fc.constantFrom({ kind: 'no-closing' as const }, { kind: 'wrong-boundary' as const }, { kind: 'no-boundary' as const }, { kind: 'garbage-part-header' as const }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }).map((at) => ({ kind: 'utf8' as const, at })) },
);

function editCase(fx: Fixtures): fc.Arbitrary<FuzzCase> {
  const fileData = fc.oneof(
    { weight: 4, arbitrary: fc.constant(fx.png) },
    { weight: 1, arbitrary: fc.constant(fx.png.subarray(0, Math.floor(fx.png.length / 2))) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)) },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from('GIF89a'), Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'), Buffer.from('%PDF-1.4')) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 12 }).map((mb) => Buffer.concat([fx.png, Buffer.alloc(mb * 1024 * 1024)])) },
  );
  const textPart = fc.tuple(fc.oneof(fc.constantFrom('model', 'prompt', 'n', 'size', 'quality', 'background', 'output_format', 'output_compression', 'response_format', 'stream', 'partial_images', 'input_fidelity', 'user', 'image', 'mask'), fieldName(['x'])), fc.oneof(str, fc.constantFrom(...OPENAI_IMAGE_MODELS), fc.constantFrom('1', '2', '11', '-1', 'true', '1024x1024', 'auto', 'png', 'high')));
  const filePart = fc.tuple(fc.constantFrom('image', 'image[]', 'image[0]', 'image[99]', 'mask', 'other', ''), fileData, fc.oneof(fc.constant('a.png'), fc.constant(''), str.map((s) => s.slice(0, 300).replace(/["\r\n]/g, ''))), fc.constantFrom('image/png', 'image/jpeg', 'application/octet-stream', 'text/plain', ''));
  return fc
    .record({
      model: fc.oneof(fc.constantFrom(...OPENAI_IMAGE_MODELS), fc.constantFrom('gpt-4o-image', '', 'nope')),
      texts: fc.array(textPart, { maxLength: 6 }),
      files: fc.array(filePart, { maxLength: 8 }),
      keepBase: fc.boolean(),
      mutation: multipartMutation,
      headers: headerPlan,
    })
    .map(({ model, texts, files, keepBase, mutation, headers }) => {
      const parts: Part[] = [];
      if (keepBase) parts.push({ name: 'model', data: Buffer.from(model) }, { name: 'prompt', data: Buffer.from('put a moon in the sky') }, { name: 'image[]', filename: 'a.png', type: 'image/png', data: fx.png });
      for (const [name, value] of texts) parts.push({ name, data: Buffer.from(value) });
      for (const [name, data, filename, type] of files) parts.push({ name, filename, type, data });
      const boundary = 'easelfuzz' + parts.length;
      let body = multipartBytes(parts, boundary);
      let type = `multipart/form-data; boundary=${boundary}`;
      switch (mutation.kind) {
        case 'truncate':
          body = body.subarray(0, Math.floor(body.length * mutation.at));
          break;
        case 'no-closing':
          body = body.subarray(0, body.length - (`--${boundary}--\r\n`).length);
          break;
        case 'wrong-boundary':
          type = 'multipart/form-data; boundary=somethingelse';
          break;
        case 'no-boundary':
          type = 'multipart/form-data';
          break;
        case 'garbage-part-header':
          body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name\r\nX: \u00ff\r\n\r\nzz\r\n`, 'latin1'), body]);
          break;
        case 'utf8': {
          const at = Math.floor(body.length * mutation.at);
          body = Buffer.concat([body.subarray(0, at), INVALID_UTF8[0]!, body.subarray(at)]);
          break;
        }
      }
      return {
        group: 'openai',
        label: `edits ${mutation.kind} model=${model} texts=${texts.map(([n]) => n.slice(0, 15)).join(',')} files=${files.map(([n, d]) => `${n}:${d.length}`).join(',')}`,
        method: 'POST',
        path: '/v1/images/edits',
        headers: headersOf(headers, fx.key, type),
        body,
        dialects: ['openai'],
      };
    });
}

// ---------------------------------------------------------------------------------------------
// Cases per dialect

function jsonCase(
  group: string,
  dialects: Dialect[] | ((body: Buffer) => Dialect[]),
  method: string,
  paths: fc.Arbitrary<string>,
  base: Pairs,
  fx: Fixtures,
): fc.Arbitrary<FuzzCase> {
  return fc.record({ path: paths, body: jsonBody(base), bytes: byteMutation, headers: headerPlan }).map(({ path, body, bytes, headers }) => {
    const data = mutateBytes(body.text, bytes);
    return {
      group,
      label: `${method} ${path.slice(0, 80)} ${body.label.slice(0, 200)} bytes=${bytes.kind} ct=${headers.contentType.slice(0, 40)} auth=${headers.auth.slice(0, 20)} extras=${headers.extras.length}`,
      method,
      path,
      headers: headersOf(headers, fx.key, 'application/json'),
      body: data,
      dialects: typeof dialects === 'function' ? dialects(data) : dialects,
    };
  });
}

function getCase(group: string, dialects: Dialect[], paths: fc.Arbitrary<string>, fx: Fixtures, method = 'GET'): fc.Arbitrary<FuzzCase> {
  const maybeBody = fc.oneof({ weight: 5, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom('{}', '{"x":', 'junk').map((s) => Buffer.from(s)) });
  return fc.record({ path: paths, headers: headerPlan, body: maybeBody }).map(({ path, headers, body }) => ({
    group,
    label: `${method} ${path.slice(0, 120)} ct=${headers.contentType.slice(0, 40)} auth=${headers.auth.slice(0, 20)} extras=${headers.extras.map(([k]) => k).join(',').slice(0, 80)}`,
    method,
    path,
    headers: headersOf(headers, fx.key, body ? 'application/json' : undefined),
    body,
    dialects,
  }));
}

const j = JSON.stringify;

/** The shared generations route answers in OpenAI's envelope once the body names an OpenAI model. */
function generationsDialect(body: Buffer): Dialect[] {
  try {
    const parsed = JSON.parse(body.toString('utf8').replace(/^\ufeff/, '')); // fastify's parser drops a BOM too
    if (parsed && typeof parsed === 'object' && (OPENAI_IMAGE_MODELS as readonly string[]).includes(parsed.model)) return ['openai', 'unified'];
  } catch {
    /* not JSON: the route's own dialect */
  }
  return ['unified'];
}

/** Image references as data: URLs: a real PNG, a cut-off one, garbage, other formats, odd headers. */
function dataUrls(png: Buffer): fc.Arbitrary<string> {
  const b64 = (b: Buffer | Uint8Array) => Buffer.from(b).toString('base64');
  return fc.oneof(
    fc.constant(`data:image/png;base64,${b64(png)}`),
    fc.constant(`data:image/png;base64,${b64(png.subarray(0, Math.floor(png.length / 2)))}`),
    fc.uint8Array({ maxLength: 300 }).map((a) => `data:image/png;base64,${b64(a)}`),
    fc.constantFrom('data:', 'data:,', 'data:image/png,%89PNG', 'data:image/png;base64', 'data:;base64,AAAA', 'data:image/svg+xml;base64,PHN2Zy8+', 'data:image/gif;base64,R0lGODlhAQABAAAAACw=', 'DATA:IMAGE/PNG;BASE64,AAAA', 'data:image/png;base64,====', 'data:image/png;charset=utf-8;base64,AAAA'),
    fc.integer({ min: 1, max: 12 }).map((mb) => `data:image/png;base64,${b64(png)}${'A'.repeat(mb * 1024 * 1024)}`),
  );
}

export function caseGroups(fx: Fixtures): Record<string, fc.Arbitrary<FuzzCase>> {
  const ids = [fx.taskId, fx.kieTaskId];
  const dataUrl = dataUrls(fx.png);
  const unifiedBase: Pairs = [
    ['model', j('gpt-4o-image')],
    ['prompt', j('a red fox in snow')],
    ['size', j('1:1')],
    ['n', '1'],
    ['image_urls', j(['https://example.invalid/ref.png'])],
    ['callback_url', j('https://example.invalid/hook')],
    ['client_business_id', j('order-42')],
    ['metadata', j({ a: 1 })],
  ];
  const openaiBase: Pairs = [
    ['model', j('gpt-image-1')],
    ['prompt', j('a lighthouse at dusk')],
    ['n', '1'],
    ['size', j('1024x1024')],
    ['quality', j('low')],
    ['output_format', j('png')],
    ['response_format', j('url')],
    ['background', j('auto')],
    ['output_compression', '80'],
    ['style', j('vivid')],
    ['stream', 'false'],
    ['partial_images', '0'],
    ['user', j('u1')],
  ];
  const openaiModelBase = fc.constantFrom(...OPENAI_IMAGE_MODELS).chain((model) => fc.constant<Pairs>([['model', j(model)], ...openaiBase.slice(1)]));
  const chatBase: Pairs = [
    ['model', j('gpt-4o-image')],
    [
      'messages',
      j([
        { role: 'system', content: 'you draw' },
        { role: 'user', content: [{ type: 'text', text: 'a cat with a hat' }, { type: 'image_url', image_url: { url: 'https://example.invalid/cat.png' } }] },
      ]),
    ],
    ['stream', 'false'],
    ['stream_options', j({ include_usage: true })],
  ];
  const kieBase: Pairs = [
    ['prompt', j('A cute orange cat')],
    ['size', j('1:1')],
    ['nVariants', '1'],
    ['isEnhance', 'false'],
    ['filesUrl', j(['https://example.invalid/a.png'])],
    ['maskUrl', j('https://example.invalid/m.png')],
    ['callBackUrl', j('https://example.invalid/hook')],
    ['enableFallback', 'true'],
    ['fallbackModel', j('GPT_IMAGE_1')],
    ['uploadCn', 'false'],
  ];
  const kieDownloadBase: Pairs = [
    ['taskId', j(fx.kieTaskId)],
    ['url', j(fx.resultUrl)],
  ];
  const keyBase: Pairs = [
    ['name', j('fuzzed')],
    ['credits', '10'],
    ['rpm', '60'],
    ['concurrency', '2'],
    ['daily_images', '100'],
    ['admin', 'false'],
  ];
  const seg = segment(ids);
  const keySeg = segment([fx.otherKeyId]);
  const chatMessageParts = fc.array(
    fc.oneof(
      fc.record({ type: fc.constantFrom('text', 'image_url', 'input_audio', 'file', ''), text: fc.oneof(str, fc.constant(undefined)) }),
      fc.record({ type: fc.constant('image_url'), image_url: fc.oneof(fc.record({ url: str }), fc.record({ url: dataUrl, detail: fc.constantFrom('auto', 'low', 'x') }), str, fc.constant(null)) }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    { maxLength: 8 },
  );

  return {
    unified: fc.oneof(
      { weight: 6, arbitrary: jsonCase('unified', generationsDialect, 'POST', fc.constant('/v1/images/generations'), unifiedBase, fx) },
      { weight: 2, arbitrary: getCase('unified', ['unified'], seg.map((s) => `/v1/tasks/${s}`), fx) },
      { weight: 2, arbitrary: getCase('unified', ['unified'], seg.map((s) => `/v1/images/generations/${s}`), fx) },
    ),
    openai: fc.oneof(
      { weight: 4, arbitrary: openaiModelBase.chain((base) => jsonCase('openai', generationsDialect, 'POST', fc.constant('/v1/images/generations'), base, fx)) },
      { weight: 4, arbitrary: editCase(fx) },
      { weight: 1, arbitrary: openaiModelBase.chain((base) => jsonCase('openai', ['openai'], 'POST', fc.constant('/v1/images/edits'), [...base, ['images', j([{ image_url: 'data:image/png;base64,' + fx.png.toString('base64') }])], ['mask', j({ image_url: 'https://example.invalid/m.png' })]], fx)) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.array(dataUrl, { minLength: 1, maxLength: 6 }), fc.option(dataUrl), fc.constantFrom(...OPENAI_IMAGE_MODELS), headerPlan).map(([images, mask, model, headers]) => ({
          group: 'openai',
          label: `edits json data urls ${images.map((u) => u.slice(0, 30)).join(' ')} mask=${mask?.slice(0, 30)}`,
          method: 'POST',
          path: '/v1/images/edits',
          headers: headersOf(headers, fx.key, 'application/json'),
          body: Buffer.from(j({ model, prompt: 'winter', images: images.map((image_url) => ({ image_url })), ...(mask ? { mask: { image_url: mask } } : {}) })),
          dialects: ['openai'] as Dialect[],
        })),
      },
      { weight: 1, arbitrary: getCase('openai', ['openai'], segment(['gpt-image-1', 'dall-e-3']).map((s) => `/v1/models/${s}`), fx) },
    ),
    chat: fc.oneof(
      { weight: 6, arbitrary: jsonCase('chat', ['chat'], 'POST', fc.constant('/v1/chat/completions'), chatBase, fx) },
      {
        weight: 2,
        arbitrary: fc.tuple(chatMessageParts, fc.constantFrom('user', 'assistant', 'tool', 'x'), headerPlan).map(([parts, role, headers]) => ({
          group: 'chat',
          label: `chat parts ${j(parts).slice(0, 200)}`,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: headersOf(headers, fx.key, 'application/json'),
          body: Buffer.from(j({ model: 'gpt-4o-image', messages: [{ role, content: parts }] })),
          dialects: ['chat'] as Dialect[],
        })),
      },
      { weight: 1, arbitrary: getCase('chat', ['chat'], segment(['completions']).map((s) => `/v1/chat/${s}`), fx) },
    ),
    kie: fc.oneof(
      { weight: 5, arbitrary: jsonCase('kie', ['kie'], 'POST', fc.constant('/api/v1/gpt4o-image/generate'), kieBase, fx) },
      { weight: 2, arbitrary: getCase('kie', ['kie'], fc.oneof(queryString(['taskId']), segment(ids).map((s) => `?taskId=${s}`)).map((q) => `/api/v1/gpt4o-image/record-info${q}`), fx) },
      { weight: 2, arbitrary: jsonCase('kie', ['kie'], 'POST', fc.constant('/api/v1/gpt4o-image/download-url'), kieDownloadBase, fx) },
      { weight: 1, arbitrary: getCase('kie', ['kie'], segment(['generate']).map((s) => `/api/v1/gpt4o-image/${s}`), fx, 'DELETE') },
    ),
    native: fc.oneof(
      { weight: 3, arbitrary: getCase('native', ['unified'], queryString(['status', 'model', 'before', 'limit']).map((q) => `/v1/tasks${q}`), fx) },
      { weight: 2, arbitrary: getCase('native', ['unified'], seg.map((s) => `/v1/tasks/${s}/cancel`), fx, 'POST') },
      { weight: 2, arbitrary: getCase('native', ['unified'], seg.map((s) => `/v1/tasks/${s}/events`), fx) },
      { weight: 1, arbitrary: getCase('native', ['unified'], seg.map((s) => `/v1/tasks/${s}/deliveries`), fx) },
      { weight: 1, arbitrary: getCase('native', ['unified'], seg.map((s) => `/v1/tasks/${s}/deliveries/retry`), fx, 'POST') },
      { weight: 1, arbitrary: getCase('native', ['unified'], seg.map((s) => `/v1/tasks/${s}/attempts`), fx) },
      { weight: 1, arbitrary: getCase('native', ['unified'], queryString(['days']).map((q) => `/v1/usage${q}`), fx) },
    ),
    admin: fc.oneof(
      { weight: 3, arbitrary: jsonCase('admin', ['unified'], 'POST', fc.constant('/admin/keys'), keyBase, fx) },
      { weight: 3, arbitrary: keySeg.chain((s) => jsonCase('admin', ['unified'], 'PATCH', fc.constant(`/admin/keys/${s}`), keyBase, fx)) },
      { weight: 2, arbitrary: keySeg.chain((s) => jsonCase('admin', ['unified'], 'POST', fc.constant(`/admin/keys/${s}/credits`), [['amount', '5'], ['note', j('June')]], fx)) },
      { weight: 1, arbitrary: keySeg.chain((s) => jsonCase('admin', ['unified'], 'PUT', fc.constant(`/admin/keys/${s}/webhook-secret`), [['secret', j('whsec_' + Buffer.alloc(24, 7).toString('base64'))]], fx)) },
      { weight: 1, arbitrary: getCase('admin', ['unified'], fc.tuple(keySeg, queryString(['limit', 'before'])).map(([s, q]) => `/admin/keys/${s}/ledger${q}`), fx) },
      { weight: 1, arbitrary: getCase('admin', ['unified'], queryString(['include_revoked']).map((q) => `/admin/keys${q}`), fx) },
      // Deletes only keys that do not exist: the fuzzing key must stay.
      { weight: 1, arbitrary: getCase('admin', ['unified'], segment(['key_doesnotexist']).map((s) => `/admin/keys/${s}-x`), fx, 'DELETE') },
    ),
  };
}

export function toBytes(c: FuzzCase): Buffer {
  return buildRequest(c.method, c.path, c.headers, c.body);
}

/** Why an error answer is not in the dialect's envelope, or undefined when it is. */
export function envelopeProblem(dialect: Dialect, status: number, json: any, headers: Record<string, string>): string | undefined {
  if (!/application\/json/.test(headers['content-type'] ?? '')) return `content-type ${headers['content-type']}`;
  if (json === null || typeof json !== 'object') return 'not a JSON object';
  switch (dialect) {
    case 'unified': {
      const e = json.error;
      if (!e || typeof e !== 'object') return 'no error object';
      if (e.code !== status) return `error.code ${j(e.code)} is not the status ${status}`;
      if (typeof e.message !== 'string' || e.message === '') return 'error.message';
      if (typeof e.type !== 'string') return 'error.type';
      return undefined;
    }
    case 'openai': {
      const e = json.error;
      if (!e || typeof e !== 'object') return 'no error object';
      for (const k of ['message', 'type', 'param', 'code']) if (!(k in e)) return `error.${k} missing`;
      if (typeof e.message !== 'string' || e.message === '' || typeof e.type !== 'string') return 'error.message/type';
      if (e.param !== null && typeof e.param !== 'string') return 'error.param';
      if (e.code !== null && typeof e.code !== 'string') return 'error.code';
      return undefined;
    }
    case 'chat': {
      if (json.success !== false) return 'success is not false';
      if (!json.error || typeof json.error.code !== 'string' || typeof json.error.message !== 'string') return 'error.code/message';
      if (typeof json.trace_id !== 'string' || json.trace_id === '') return 'trace_id';
      return undefined;
    }
    case 'kie': {
      if (json.code !== status) return `code ${j(json.code)} is not the status ${status}`;
      if (typeof json.msg !== 'string' || json.msg === '') return 'msg';
      if (json.data !== null) return 'data is not null';
      return undefined;
    }
  }
}
