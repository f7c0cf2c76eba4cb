// The providers/models/routing sections of the YAML file: what a good file turns into, and a
// ConfigError naming the field for each kind of mistake — at start, before anything opens.
import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/config.js';
import { loadConfigFile } from '../../src/config-file.js';
import { readRoutingConfig } from '../../src/providers/provider-config.js';
import { startTestServer } from '../helpers/server.js';
import { tempDir } from '../helpers/backends.js';

const env = { OPENAI_API_KEY: 'sk-up-123', KIE_KEY: 'kie-1' };

function configError(file: Record<string, unknown>, pattern: RegExp, e: Record<string, string | undefined> = env): void {
  assert.throws(
    () => readRoutingConfig(file, e),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err.name}: ${err.message}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

it('reads the documented example, with the built-in local provider and defaults', () => {
  const yaml = `
providers:
  - id: primary
    type: openai
    base_url: http://127.0.0.1:9999/v1
    api_key_env: OPENAI_API_KEY
    model: gpt-image-1
  - id: offline
    type: local
models:
  gpt-4o-image:
    targets: [primary, offline]
`;
  const dir = tempDir();
  const file = path.join(dir, 'easel.yaml');
  fs.writeFileSync(file, yaml);
  const cfg = readRoutingConfig(loadConfigFile(file), env);
  fs.rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(cfg.providers.map((p) => [p.entry.id, p.entry.type, p.apiKey]), [['primary', 'openai', 'sk-up-123'], ['offline', 'local', undefined], ['local', 'local', undefined]]);
  assert.deepEqual(cfg.routes['gpt-4o-image'], { strategy: 'fallback', targets: [{ provider: 'primary' }, { provider: 'offline' }] });
  assert.deepEqual(cfg.defaultRoute.targets, [{ provider: 'local' }], 'unlisted models run locally');
});

it('without the sections every model runs on the local renderer', () => {
  const cfg = readRoutingConfig({ pricing: { whatever: 1 } }, {});
  assert.deepEqual(cfg.providers.map((p) => p.entry.id), ['local']);
  assert.deepEqual(cfg.routes, {});
  assert.deepEqual(cfg.defaultRoute.targets, [{ provider: 'local' }]);
});

it('takes weighted routes, per-target models, a "*" route and routing settings', () => {
  const cfg = readRoutingConfig(
    {
      providers: [{ id: 'k', type: 'kie', api_key_env: 'KIE_KEY', poll_interval_ms: 2000 }],
      models: { 'gpt-4o-image': { strategy: 'weighted', targets: [{ provider: 'k', weight: 3 }, { provider: 'local', weight: 1, model: 'x' }] }, '*': { targets: ['k'] } },
      routing: { max_retries: 4, backoff_ms: 100, breaker: { failure_threshold: 3, cooldown_ms: 1000 } },
    },
    env,
  );
  assert.equal(cfg.routes['gpt-4o-image']!.strategy, 'weighted');
  assert.deepEqual(cfg.routes['gpt-4o-image']!.targets[1], { provider: 'local', weight: 1, model: 'x' });
  assert.deepEqual(cfg.defaultRoute.targets, [{ provider: 'k' }]);
  assert.deepEqual(cfg.retry, { maxRetries: 4, baseDelayMs: 100 });
  assert.deepEqual(cfg.breaker, { failureThreshold: 3, cooldownMs: 1000 });
});

it('names the field of every mistake', () => {
  configError({ providers: [{ id: 'p', type: 'dalle' }] }, /'providers\[0\]\.type' must be one of "openai", "chat", "kie", "unified", "local"/);
  configError({ providers: [{ id: 'p', type: 'openai', bse_url: 'http://x' }] }, /[Uu]nknown field.*providers\[0\]\.bse_url/);
  configError({ providers: [{ type: 'openai' }] }, /'providers\[0\]\.id' is required/);
  configError({ providers: [{ id: 'p', type: 'openai', base_url: 'ftp://x' }] }, /'providers\[0\]\.base_url' is not in the expected format/);
  configError({ providers: [{ id: 'p', type: 'openai', api_key_env: 'NOT_SET_ANYWHERE' }] }, /'providers\[0\]\.api_key_env' names the environment variable NOT_SET_ANYWHERE, which is not set/);
  configError({ providers: [{ id: 'p', type: 'openai' }] }, /'providers\[0\]\.api_key_env' is required for OpenAI itself/);
  configError({ providers: [{ id: 'p', type: 'local' }, { id: 'p', type: 'local' }] }, /'providers\[1\]\.id' repeats the provider id "p"/);
  configError({ providers: [{ id: 'p', type: 'local', timeout_ms: 5 }] }, /'providers\[0\]\.timeout_ms'/);
  configError({ providers: 'nope' }, /'providers' must be an array/);
  configError({ models: { 'gpt-4o-image': { targets: ['ghost'] } } }, /'models\.gpt-4o-image\.targets\[0\]' names the provider "ghost", which is not defined under providers \(defined: local\)/);
  configError({ models: { 'gpt-4o-image': { targets: [] } } }, /'models\.gpt-4o-image\.targets' must hold at least 1 items/);
  configError({ models: { 'gpt-4o-image': { strategy: 'random', targets: ['local'] } } }, /'models\.gpt-4o-image\.strategy' must be one of "fallback", "weighted"/);
  configError({ routing: { max_retries: 99 } }, /'routing\.max_retries'/);
  configError({ providers: [{ id: 'k', type: 'kie', references: 'data_url' }] }, /'providers\[0\]\.references' must be "link" for kie/);
});

it('a bad file stops the server start with the ConfigError', async () => {
  await assert.rejects(
    startTestServer({ config: { file: { providers: [{ id: 'primary', type: 'openai', base_url: 'http://127.0.0.1:1/v1', api_key_env: 'EASEL_TEST_UNSET_VARIABLE' }] } } }),
    (err: Error) => err instanceof ConfigError && /EASEL_TEST_UNSET_VARIABLE/.test(err.message),
  );
});

it('`easel serve` says at start which providers the file configured, not "the local renderer"', async () => {
  const { spawnEasel } = await import('../helpers/process.js');
  const dir = tempDir();
  const file = path.join(dir, 'easel.yaml');
  fs.writeFileSync(file, ['providers:', '  - id: primary', '    type: openai', '    api_key_env: OPENAI_API_KEY', '  - id: offline', '    type: local', 'models:', '  gpt-4o-image:', '    targets: [primary, offline]', ''].join('\n'));
  const p = await spawnEasel({ EASEL_DATA_DIR: dir, EASEL_CONFIG: file, OPENAI_API_KEY: 'sk-up-123' });
  try {
    assert.match(p.output(), new RegExp(`providers \\(${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): primary \\(openai\\), offline \\(local\\)`));
    assert.doesNotMatch(p.output(), /built-in local renderer/);
  } finally {
    p.kill('SIGTERM');
    await p.exited;
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
