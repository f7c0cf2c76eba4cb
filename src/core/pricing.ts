// What a request costs in credits, held at submit and settled when the task ends. Prices come
// from the `pricing` section of the config file (validated in src/accounts/pricing-config.ts);
// without one, every image of every model costs one credit. The accounts module computes the hold
// from the task's request with the configured table, whatever a dialect passed as
// creditsReserved, so every dialect is billed the same way.
import type { GenerationRequest } from './generation-request.js';

export const DEFAULT_PRICE_PER_IMAGE = 1;

/** Credits are kept as whole micro-credits in the ledger, so sums are exact. */
export const MICRO = 1_000_000;

export interface ModelPrice {
  /** Credits per image of this model (default: the table's default). */
  per_image?: number | undefined;
  /** Multipliers by size, keyed by the size the client asked for ('3:2') or by pixels ('1536x1024'). */
  size?: Record<string, number> | undefined;
  /** Multipliers by quality (low, medium, high, auto). */
  quality?: Record<string, number> | undefined;
}

export interface PricingTable {
  /** Credits per image for models not listed. */
  default: number;
  models: Record<string, ModelPrice>;
}

export const DEFAULT_PRICING: PricingTable = Object.freeze({ default: DEFAULT_PRICE_PER_IMAGE, models: {} });

export type PricedRequest = Pick<GenerationRequest, 'n' | 'model'> & Partial<Pick<GenerationRequest, 'size' | 'sizeLabel' | 'quality'>>;

/** The price of one image of this request, in micro-credits. */
export function microPricePerImage(request: PricedRequest, table: PricingTable = DEFAULT_PRICING): number {
  const model = Object.hasOwn(table.models, request.model) ? table.models[request.model] : undefined;
  let price = model?.per_image ?? table.default;
  if (model?.size) {
    const bySize =
      (request.sizeLabel !== undefined && Object.hasOwn(model.size, request.sizeLabel) ? model.size[request.sizeLabel] : undefined) ??
      (request.size ? model.size[`${request.size.width}x${request.size.height}`] : undefined);
    if (bySize !== undefined) price *= bySize;
  }
  if (model?.quality && request.quality !== undefined && Object.hasOwn(model.quality, request.quality)) {
    price *= model.quality[request.quality]!;
  }
  return Math.round(price * MICRO);
}

/** Credits held for a request: n × the price of one image. */
export function creditsFor(request: PricedRequest, table: PricingTable = DEFAULT_PRICING): number {
  return (microPricePerImage(request, table) * request.n) / MICRO;
}
