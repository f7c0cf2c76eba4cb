// Which OpenAI image models this server offers, and the facts about each that its rules need.
// The set is configuration: EASEL_OPENAI_MODELS (comma-separated) wins over the YAML file's
// `openai_models` list, and without either all six are offered. (The file's `models` section is
// the router's: it says where a model runs, not whether the OpenAI dialect offers it.)
import { ConfigError, type Config } from '../../config.js';
import { OPENAI_IMAGE_MODELS, SEED_IMAGE_MODELS, isOpenAIImageModel, type OpenAIImageModel } from '../../core/models.js';

export type ImageFamily = 'gpt-image' | 'dall-e-2' | 'dall-e-3';

export interface ImageModelInfo {
  id: OpenAIImageModel;
  family: ImageFamily;
  /** When OpenAI released it (unix seconds), for /v1/models. */
  created: number;
  /** Whether POST /v1/images/edits takes it. */
  edits: boolean;
  /** gpt-image-2 takes any WIDTHxHEIGHT within its bounds, not only the three fixed sizes. */
  customSizes: boolean;
  /** input_fidelity: honoured, not offered, or fixed at high. */
  inputFidelity: 'yes' | 'no' | 'always-high';
  maxPromptChars: number;
}

const INFO: Record<OpenAIImageModel, ImageModelInfo> = {
  'gpt-image-1': { id: 'gpt-image-1', family: 'gpt-image', created: 1745366400, edits: true, customSizes: false, inputFidelity: 'yes', maxPromptChars: 32000 },
  'gpt-image-1-mini': { id: 'gpt-image-1-mini', family: 'gpt-image', created: 1759708800, edits: true, customSizes: false, inputFidelity: 'no', maxPromptChars: 32000 },
  'gpt-image-1.5': { id: 'gpt-image-1.5', family: 'gpt-image', created: 1765843200, edits: true, customSizes: false, inputFidelity: 'yes', maxPromptChars: 32000 },
  'gpt-image-2': { id: 'gpt-image-2', family: 'gpt-image', created: 1777939200, edits: true, customSizes: true, inputFidelity: 'always-high', maxPromptChars: 32000 },
  'dall-e-3': { id: 'dall-e-3', family: 'dall-e-3', created: 1698785189, edits: false, customSizes: false, inputFidelity: 'no', maxPromptChars: 4000 },
  'dall-e-2': { id: 'dall-e-2', family: 'dall-e-2', created: 1698798177, edits: true, customSizes: false, inputFidelity: 'no', maxPromptChars: 1000 },
};

/** gpt-4o-image as /v1/models lists it (GPT-4o's image generation came out on 2025-03-25). */
export const SEED_MODEL_CREATED = 1742860800;

export class ModelCatalog {
  constructor(readonly models: readonly ImageModelInfo[]) {}

  get(id: string): ImageModelInfo | undefined {
    return this.models.find((m) => m.id === id);
  }

  ids(): string[] {
    return this.models.map((m) => m.id);
  }

  /** The model an edit uses when the client names none: OpenAI's default, else the first that edits. */
  defaultEditModel(): ImageModelInfo | undefined {
    return this.get('gpt-image-1.5') ?? this.models.find((m) => m.edits);
  }
}

function namesFromFile(section: unknown): string[] | undefined {
  if (section === undefined || section === null) return undefined;
  if (!Array.isArray(section) || !section.every((n) => typeof n === 'string')) {
    throw new ConfigError(`EASEL_CONFIG: 'openai_models' must be a list of model names (any of ${OPENAI_IMAGE_MODELS.join(', ')}).`);
  }
  return section.map((name, i) => {
    if (!isOpenAIImageModel(name)) {
      throw new ConfigError(`EASEL_CONFIG: 'openai_models[${i}]' is '${name}', not an OpenAI image model easel knows; use any of ${OPENAI_IMAGE_MODELS.join(', ')}.`);
    }
    return name;
  });
}

function parseEnv(raw: string): string[] {
  const names = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const name of names) {
    if (!isOpenAIImageModel(name)) {
      throw new ConfigError(`EASEL_OPENAI_MODELS: '${name}' is not an OpenAI image model easel knows; use any of ${OPENAI_IMAGE_MODELS.join(', ')}.`);
    }
  }
  return names;
}

export function loadModelCatalog(config: Pick<Config, 'file'>, env: Record<string, string | undefined> = process.env): ModelCatalog {
  const fromEnv = env.EASEL_OPENAI_MODELS;
  const names =
    fromEnv !== undefined && fromEnv.trim() !== ''
      ? parseEnv(fromEnv)
      : (namesFromFile(config.file?.openai_models) ?? [...OPENAI_IMAGE_MODELS]);
  const unique = [...new Set(names)] as OpenAIImageModel[];
  return new ModelCatalog(unique.map((id) => INFO[id]));
}

const catalogs = new WeakMap<object, ModelCatalog>();

/** The catalog of this server's config, read once. */
export function modelCatalog(config: Readonly<Config>): ModelCatalog {
  let catalog = catalogs.get(config);
  if (!catalog) {
    catalog = loadModelCatalog(config);
    catalogs.set(config, catalog);
  }
  return catalog;
}

/** Models /v1/models lists besides the OpenAI ones: the seed dialects' gpt-4o-image. */
export const SEED_MODELS_LISTED: readonly string[] = SEED_IMAGE_MODELS;
