// The format the client asked for, whatever the upstream made: seed upstreams answer PNG only, so
// a request for JPEG or WebP that one of them served is converted here, once, with a warning that
// says so. Images already in the asked format pass untouched.
import sharp from 'sharp';
import type { GeneratedImage, ImageFormat, ProviderWarning } from './spec.js';

const MEDIA: Record<ImageFormat, GeneratedImage['mediaType']> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

export async function matchFormat(
  images: GeneratedImage[],
  format: ImageFormat,
  compression: number | undefined,
  providerId: string,
): Promise<{ images: GeneratedImage[]; warnings: ProviderWarning[] }> {
  const wanted = MEDIA[format];
  const off = images.filter((i) => i.mediaType !== wanted);
  if (off.length === 0) return { images, warnings: [] };
  const quality = Math.max(1, Math.min(100, compression ?? 90));
  const converted = await Promise.all(
    images.map(async (img) => {
      if (img.mediaType === wanted) return img;
      const pipeline = sharp(img.data);
      const out = format === 'png' ? pipeline.png() : format === 'jpeg' ? pipeline.flatten({ background: '#ffffff' }).jpeg({ quality }) : pipeline.webp({ quality });
      const buf = await out.toBuffer();
      return { ...img, data: new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), mediaType: wanted };
    }),
  );
  const from = [...new Set(off.map((i) => i.mediaType))].join(', ');
  return {
    images: converted,
    warnings: [{ type: 'compatibility', setting: 'format', details: `${providerId} made ${from}; easel converted it to ${format}.` }],
  };
}
