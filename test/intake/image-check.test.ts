import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import sharp from 'sharp';
import { EaselError } from '../../src/core/errors.js';
import { inspectGeneratedImage, inspectImage } from '../../src/intake/image-check.js';

function processingError(pattern: RegExp, param?: string) {
  return (err: unknown) => {
    assert.ok(EaselError.is(err), String(err));
    assert.equal(err.code, 'image_processing_error', err.message);
    assert.match(err.message, pattern);
    if (param !== undefined) assert.equal(err.param, param);
    return true;
  };
}

const solid = (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: { r: 200, g: 100, b: 50, alpha: 1 } } });

/** A PNG from scratch: the given IHDR size, with `idat` as its (zlib) pixel data. */
function handMadePng(width: number, height: number, idat: Buffer): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const byte of buf) c = (crcTable[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', idat),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('inspectImage', () => {
  it('accepts PNG, JPEG and WebP and reports type and size from the bytes', async () => {
    const png = await solid(31, 17, 4).png().toBuffer();
    const jpeg = await solid(640, 480).jpeg({ quality: 80 }).toBuffer();
    const webp = await solid(5, 9).webp().toBuffer();
    assert.deepEqual(await inspectImage(png), { data: png, mediaType: 'image/png', width: 31, height: 17 });
    const j = await inspectImage(jpeg);
    assert.deepEqual([j.mediaType, j.width, j.height], ['image/jpeg', 640, 480]);
    const w = await inspectImage(webp);
    assert.deepEqual([w.mediaType, w.width, w.height], ['image/webp', 5, 9]);
  });

  it('refuses other types, whatever they claim to be', async () => {
    const gif = await solid(4, 4).gif().toBuffer();
    const tiff = await solid(4, 4).tiff().toBuffer();
    await assert.rejects(inspectImage(gif, { param: 'image' }), processingError(/unsupported image type \(image\/gif\)/, 'image'));
    await assert.rejects(inspectImage(tiff), processingError(/unsupported image type \(image\/tiff\)/));
    await assert.rejects(inspectImage(new TextEncoder().encode('<html><body>hi</body></html>')), processingError(/unsupported image type \(not a recognised image format\)/));
    await assert.rejects(inspectImage(new Uint8Array(0)), processingError(/unsupported image type/));
    await assert.rejects(inspectImage(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="9999999" height="9999999"/>')), processingError(/unsupported image type/));
  });

  it('refuses truncated and corrupt images', async () => {
    const png = await solid(64, 64).png().toBuffer();
    await assert.rejects(inspectImage(png.subarray(0, png.length - 20)), processingError(/corrupt or truncated/));
    await assert.rejects(inspectImage(png.subarray(0, 40)), processingError(/could not be read|corrupt or truncated/));
    // a JPEG cut in half
    const jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).jpeg().toBuffer();
    await assert.rejects(inspectImage(jpeg.subarray(0, Math.floor(jpeg.length / 2))), processingError(/corrupt or truncated/));
    // a PNG whose pixel data was overwritten (its checksums no longer match)
    const noisy = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } }).png().toBuffer();
    const damaged = Buffer.from(noisy);
    damaged.fill(0xab, 100, 400);
    await assert.rejects(inspectImage(damaged), processingError(/corrupt or truncated|could not be read/));
    // only the signature of a WebP
    const webp = await solid(64, 64).webp().toBuffer();
    await assert.rejects(inspectImage(webp.subarray(0, 30)), processingError(/could not be read|corrupt or truncated/));
    // a client's WebP whose header is garbage: unreadable, not "too large" by whatever its bytes would say
    const garbage = Buffer.concat([Buffer.from('RIFF'), Buffer.from([10, 0, 0, 0]), Buffer.from('WEBPVP8 '), Buffer.alloc(4)]);
    await assert.rejects(inspectImage(garbage, { param: 'image' }), processingError(/could not be read/, 'image'));
  });

  it('refuses decompression bombs by their declared size, before decoding', async () => {
    // 10000 x 10000 of one colour: 100 million pixels in a few hundred kilobytes
    const bomb = await solid(10000, 10000).png({ compressionLevel: 9 }).toBuffer();
    assert.ok(bomb.length < 1_000_000);
    await assert.rejects(inspectImage(bomb, { maxPixels: 10_000_000 }), processingError(/10000x10000 is 100000000 pixels, more than the limit of 10000000/));
    // the default limit (50 million) refuses it too
    await assert.rejects(inspectImage(bomb), processingError(/more than the limit of 50000000/));
    // a hand-made PNG header that claims 100000 x 100000 pixels over a few bytes of data
    const liar = handMadePng(100_000, 100_000, zlib.deflateSync(Buffer.alloc(1000)));
    await assert.rejects(inspectImage(liar), processingError(/too large|could not be read/));
    // and a small one is fine under a small limit
    const small = await solid(100, 100).png().toBuffer();
    assert.equal((await inspectImage(small, { maxPixels: 10_000 })).width, 100);
    await assert.rejects(inspectImage(small, { maxPixels: 9_999 }), processingError(/more than the limit of 9999/));
  });

  it('refuses a PNG that declares a small size but whose data is short (no trust in the header alone)', async () => {
    const short = handMadePng(300, 300, zlib.deflateSync(Buffer.alloc(10)));
    await assert.rejects(inspectImage(short), processingError(/corrupt or truncated|could not be read/));
  });
});

describe('inspectGeneratedImage (images upstreams make)', () => {
  for (const format of ['png', 'jpeg', 'webp'] as const) {
    it(`takes a whole ${format} and measures it, and refuses one cut short`, async () => {
      const whole = await solid(40, 30)[format]().toBuffer();
      const image = await inspectGeneratedImage(whole);
      assert.deepEqual([image.mediaType, image.width, image.height], [`image/${format}`, 40, 30]);
      for (const cut of [whole.length - 1, Math.floor(whole.length * 0.8)]) {
        await assert.rejects(inspectGeneratedImage(whole.subarray(0, cut)), processingError(/truncated|could not be read/));
      }
    });
  }

  it('allows the zero padding some encoders leave after a JPEG', async () => {
    const jpeg = await solid(16, 16).jpeg().toBuffer();
    const image = await inspectGeneratedImage(Buffer.concat([jpeg, Buffer.alloc(64)]));
    assert.equal(image.mediaType, 'image/jpeg');
  });

  it('refuses what is not an image, and images over the pixel limit', async () => {
    await assert.rejects(inspectGeneratedImage(Buffer.from('<html>nope</html>')), processingError(/unsupported image type/));
    const big = await solid(300, 300).png().toBuffer();
    await assert.rejects(inspectGeneratedImage(big, { maxPixels: 1000 }), processingError(/too large/));
  });
});
