// Links to stored results: HMAC-SHA256 over the object key and its expiry. A tampered link is
// refused (403) before its expiry is even looked at; an honest but expired one answers 410.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type LinkCheck = 'ok' | 'tampered' | 'expired';

export class LinkSigner {
  constructor(
    private readonly secret: string,
    private readonly baseUrl: () => string,
  ) {}

  private sign(key: string, expires: number): string {
    return createHmac('sha256', this.secret).update(`${key}\n${expires}`).digest('base64url');
  }

  /** An absolute URL for `key`, valid until `expires` (unix seconds). */
  url(key: string, expires: number): string {
    const path = key.split('/').map(encodeURIComponent).join('/');
    return `${this.baseUrl()}/files/${path}?expires=${expires}&signature=${this.sign(key, expires)}`;
  }

  check(key: string, expires: string | undefined, signature: string | undefined, nowSeconds: number): LinkCheck {
    if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return 'tampered';
    const expected = Buffer.from(this.sign(key, Number(expires)));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return 'tampered';
    return Number(expires) < nowSeconds ? 'expired' : 'ok';
  }
}
