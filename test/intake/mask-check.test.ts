import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { EaselError, type ErrorCode } from '../../src/core/errors.js';
import { normalizeMask } from '../../src/intake/mask-check.js';

const W = 4;
const H = 2;
const LIMIT = 1024 * 1024;

function expectCode(code: ErrorCode, pattern?: RegExp) {
  return (err: unknown) => {
    assert.ok(EaselError.is(err), String(err));
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    assert.equal(err.param, 'mask');
    return true;
  };
}

/** A PNG from raw pixels (row-major, `channels` bytes each). */
function png(pixels: number[][], channels: 1 | 2 | 3 | 4, width = W, height = H): Promise<Buffer> {
  return sharp(Buffer.from(pixels.flat()), { raw: { width, height, channels } }).png().toBuffer();
}

async function decode(data: Uint8Array) {
  const { data: px, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
  return { px: [...px], info };
}

async function alphaOf(data: Uint8Array): Promise<number[]> {
  const { px, info } = await decode(data);
  assert.equal(info.channels, 4);
  return px.filter((_, i) => i % 4 === 3);
}

describe('normalizeMask', () => {
  it("luminance: black = edit (alpha 0), white = keep (alpha 255), grey in between", async () => {
    // top row: black, dark grey, light grey, white; bottom row: red, green, blue, white
    const mask = await png(
      [
        [0, 0, 0], [64, 64, 64], [200, 200, 200], [255, 255, 255],
        [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255],
      ],
      3,
    );
    const out = await normalizeMask(mask, { semantics: 'luminance', width: W, height: H, maxBytes: LIMIT });
    assert.deepEqual([out.width, out.height], [W, H]);
    const meta = await sharp(out.data).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height, meta.channels], ['png', W, H, 4]);
    assert.deepEqual(await alphaOf(out.data), [0, 64, 200, 255, 54, 182, 18, 255]);
    // the colour channels say the same, so the mask also reads right with its alpha dropped
    const { px } = await decode(out.data);
    assert.deepEqual(px.slice(0, 8), [0, 0, 0, 0, 64, 64, 64, 64]);
  });

  it('luminance: ignores the mask alpha, except that fully transparent means edit', async () => {
    const mask = await png(
      [
        [255, 255, 255, 255], [255, 255, 255, 128], [255, 255, 255, 1], [255, 255, 255, 0],
        [0, 0, 0, 255], [0, 0, 0, 128], [0, 0, 0, 0], [128, 128, 128, 0],
      ],
      4,
    );
    const out = await normalizeMask(mask, { semantics: 'luminance', width: W, height: H, maxBytes: LIMIT });
    assert.deepEqual(await alphaOf(out.data), [255, 255, 255, 0, 0, 0, 0, 0]);
  });

  it('luminance: greyscale and palette PNGs work too', async () => {
    const grey = await png([[0], [255], [0], [255], [255], [0], [255], [0]], 1);
    const out = await normalizeMask(grey, { semantics: 'luminance', width: W, height: H, maxBytes: LIMIT });
    assert.deepEqual(await alphaOf(out.data), [0, 255, 0, 255, 255, 0, 255, 0]);
    const palette = await sharp(grey).png({ palette: true }).toBuffer();
    const out2 = await normalizeMask(palette, { semantics: 'luminance', width: W, height: H, maxBytes: LIMIT });
    assert.deepEqual(await alphaOf(out2.data), [0, 255, 0, 255, 255, 0, 255, 0]);
  });

  it("alpha: OpenAI's form, transparent = edit, alpha kept as it is", async () => {
    const mask = await png(
      [
        [0, 0, 0, 0], [0, 0, 0, 255], [255, 255, 255, 0], [255, 255, 255, 255],
        [10, 20, 30, 77], [0, 0, 0, 255], [0, 0, 0, 255], [0, 0, 0, 0],
      ],
      4,
    );
    const out = await normalizeMask(mask, { semantics: 'alpha', width: W, height: H, maxBytes: LIMIT });
    assert.deepEqual(await alphaOf(out.data), [0, 255, 0, 255, 77, 255, 255, 0]);
    // a grey+alpha PNG (two channels) too
    const la = await png([[0, 0], [0, 255], [255, 0], [255, 255], [9, 9], [9, 255], [9, 255], [9, 0]], 2);
    const out2 = await normalizeMask(la, { semantics: 'alpha', width: W, height: H, maxBytes: LIMIT });
    assert.deepEqual(await alphaOf(out2.data), [0, 255, 0, 255, 9, 255, 255, 0]);
  });

  it('alpha: a mask without an alpha channel would edit nothing, so it is refused', async () => {
    const rgb = await png(Array.from({ length: W * H }, () => [0, 0, 0]), 3);
    await assert.rejects(normalizeMask(rgb, { semantics: 'alpha', width: W, height: H, maxBytes: LIMIT }), expectCode('image_processing_error', /no alpha channel/));
  });

  it('the mask must be exactly the size of the image', async () => {
    const mask = await png(Array.from({ length: W * H }, () => [0, 0, 0, 0]), 4);
    for (const [width, height] of [[W + 1, H], [W, H + 1], [H, W]] as const) {
      await assert.rejects(
        normalizeMask(mask, { semantics: 'alpha', width, height, maxBytes: LIMIT }),
        expectCode('image_dimension_mismatch', new RegExp(`mask is ${W}x${H} but the image is ${width}x${height}`)),
      );
      await assert.rejects(normalizeMask(mask, { semantics: 'luminance', width, height, maxBytes: LIMIT }), expectCode('image_dimension_mismatch'));
    }
  });

  it('the mask must be a PNG, by its bytes', async () => {
    const base = sharp({ create: { width: W, height: H, channels: 4, background: '#0000' } });
    const jpeg = await base.clone().jpeg().toBuffer();
    const webp = await base.clone().webp().toBuffer();
    await assert.rejects(normalizeMask(jpeg, { semantics: 'luminance', width: W, height: H, maxBytes: LIMIT }), expectCode('image_processing_error', /must be a PNG image \(got image\/jpeg\)/));
    await assert.rejects(normalizeMask(webp, { semantics: 'alpha', width: W, height: H, maxBytes: LIMIT }), expectCode('image_processing_error', /must be a PNG image \(got image\/webp\)/));
    await assert.rejects(normalizeMask(new TextEncoder().encode('GIF89a...'), { semantics: 'alpha', width: W, height: H, maxBytes: LIMIT }), expectCode('image_processing_error', /must be a PNG/));
    await assert.rejects(normalizeMask(new Uint8Array(0), { semantics: 'alpha', width: W, height: H, maxBytes: LIMIT }), expectCode('image_processing_error', /must be a PNG/));
  });

  it('refuses a corrupt PNG and one over the byte limit', async () => {
    const big = await sharp({ create: { width: 256, height: 256, channels: 4, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    await assert.rejects(normalizeMask(big, { semantics: 'alpha', width: 256, height: 256, maxBytes: 1000 }), expectCode('payload_too_large', /larger than the limit of 1000 bytes/));
    const truncated = big.subarray(0, big.length - 100);
    await assert.rejects(normalizeMask(truncated, { semantics: 'alpha', width: 256, height: 256, maxBytes: LIMIT }), expectCode('image_processing_error', /corrupt or truncated/));
  });
});
