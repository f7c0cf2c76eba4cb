// The `pricing` section of the config file, checked with TypeBox at start; a mistake stops the
// start with a ConfigError naming the field (pricing.models.gpt-image-1.per_image …).
//
//   pricing:
//     default: 1                      # credits per image for models not listed
//     models:
//       gpt-image-1:
//         per_image: 4
//         size: { '1536x1024': 1.5 }  # multipliers, by the size asked for or by pixels
//         quality: { high: 2 }
import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { ConfigError } from '../config.js';
import { DEFAULT_PRICE_PER_IMAGE, type PricingTable } from '../core/pricing.js';
import { explainErrors } from '../http/validation.js';

/** A price above this would overflow exact sums in micro-credits. */
export const MAX_CREDITS = 1_000_000_000;

const Credits = Type.Number({ minimum: 0, maximum: MAX_CREDITS });
const Multipliers = Type.Record(Type.String({ minLength: 1 }), Type.Number({ minimum: 0, maximum: 1000 }));

const PricingSection = Type.Object(
  {
    default: Type.Optional(Credits),
    models: Type.Optional(
      Type.Record(
        Type.String({ minLength: 1 }),
        Type.Object({ per_image: Type.Optional(Credits), size: Type.Optional(Multipliers), quality: Type.Optional(Multipliers) }, { additionalProperties: false }),
      ),
    ),
  },
  { additionalProperties: false },
);

const check = Compile(PricingSection);

export function parsePricing(section: unknown): PricingTable {
  if (section === undefined || section === null) return { default: DEFAULT_PRICE_PER_IMAGE, models: {} };
  if (typeof section !== 'object' || Array.isArray(section)) {
    throw new ConfigError("The config file's 'pricing' must be a mapping (default, models).");
  }
  if (!check.Check(section)) {
    const { message, param } = explainErrors([...check.Errors(section)] as Parameters<typeof explainErrors>[0]);
    const named = param === undefined || param === 'body' ? message.replace(/'body'/, "'pricing'") : message.replace(`'${param}'`, `'pricing.${param}'`);
    throw new ConfigError(`The config file's pricing section is invalid: ${named}`);
  }
  const s = section as { default?: number; models?: PricingTable['models'] };
  return { default: s.default ?? DEFAULT_PRICE_PER_IMAGE, models: s.models ?? {} };
}
