// Prices from the config file's pricing section: multipliers by size and quality, exact sums in
// micro-credits, and a start refused with the field named when the section is wrong.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parsePricing } from '../../src/accounts/pricing-config.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { creditsFor, DEFAULT_PRICING } from '../../src/core/pricing.js';
import { defaultRequest } from '../../src/core/generation-request.js';
import { startEasel } from '../../src/server.js';
import { tempDir } from '../helpers/backends.js';

const req = (over: Parameters<typeof defaultRequest>[0]) => defaultRequest(over);

describe('pricing', () => {
  it('defaults to one credit per image for every model', () => {
    assert.equal(creditsFor(req({ model: 'gpt-4o-image', prompt: 'x', n: 4 })), 4);
    assert.equal(creditsFor(req({ model: 'dall-e-3', prompt: 'x' }), DEFAULT_PRICING), 1);
    assert.deepEqual(parsePricing(undefined), { default: 1, models: {} });
  });

  it('applies per-model prices with size and quality multipliers', () => {
    const table = parsePricing({
      default: 0.5,
      models: { 'gpt-image-1': { per_image: 4, size: { '1536x1024': 1.5, '3:2': 1.25 }, quality: { high: 2 } } },
    });
    const base = { model: 'gpt-image-1', prompt: 'x' };
    assert.equal(creditsFor(req({ ...base, n: 2 }), table), 8);
    assert.equal(creditsFor(req({ ...base, size: { width: 1536, height: 1024 }, sizeLabel: '1536x1024' }), table), 6);
    assert.equal(creditsFor(req({ ...base, size: { width: 1536, height: 1024 }, sizeLabel: 'landscape' }), table), 6, 'by pixels');
    assert.equal(creditsFor(req({ ...base, size: { width: 1536, height: 1024 }, sizeLabel: '3:2' }), table), 5, 'the asked-for label first');
    assert.equal(creditsFor(req({ ...base, quality: 'high', size: { width: 1536, height: 1024 }, sizeLabel: '1536x1024' }), table), 12);
    assert.equal(creditsFor(req({ ...base, quality: 'low' }), table), 4);
    assert.equal(creditsFor(req({ model: 'other', prompt: 'x', n: 3 }), table), 1.5);
    assert.equal(creditsFor(req({ model: 'toString', prompt: 'x' }), table), 0.5, 'no prototype lookups');
    // Exact in micro-credits: 3 × 0.1 is 0.3, not 0.30000000000000004.
    assert.equal(creditsFor(req({ model: 'm', prompt: 'x', n: 3 }), parsePricing({ default: 0.1 })), 0.3);
  });

  it('refuses a wrong pricing section with a ConfigError naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ default: -1 }, /pricing\.default/],
      [{ default: 'one' }, /pricing\.default/],
      [{ models: { 'gpt-image-1': { per_image: 'four' } } }, /pricing\.models\.gpt-image-1\.per_image/],
      [{ models: { 'gpt-image-1': { size: { '1024x1024': -2 } } } }, /pricing\.models\.gpt-image-1\.size\.1024x1024/],
      [{ models: { 'gpt-image-1': { quality: 'high' } } }, /pricing\.models\.gpt-image-1\.quality/],
      [['a'], /mapping/],
    ];
    for (const [section, pattern] of bad) {
      assert.throws(() => parsePricing(section), (err: unknown) => err instanceof ConfigError && pattern.test(err.message), JSON.stringify(section));
    }
  });

  it('stops the server at start when the config file has a bad pricing section', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'easel.yaml');
      fs.writeFileSync(file, 'pricing:\n  models:\n    gpt-4o-image:\n      per_image: -3\n');
      const config = loadConfig({ EASEL_DATA_DIR: dir, EASEL_CONFIG: file, PORT: '0', HOST: '127.0.0.1' });
      await assert.rejects(startEasel(config), (err: unknown) => err instanceof ConfigError && /pricing\.models\.gpt-4o-image\.per_image/.test(err.message));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
