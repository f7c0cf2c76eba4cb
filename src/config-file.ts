// The optional YAML file (EASEL_CONFIG or --config) for what does not fit in environment
// variables: providers, models and their routing, pricing. This module only reads and parses it;
// each section is validated by the module that uses it, with a message naming the section.
import fs from 'node:fs';
import { parse } from 'yaml';
import { ConfigError } from './config.js';

export type FileConfig = Record<string, unknown>;

export function loadConfigFile(file: string | undefined): FileConfig {
  if (!file) return {};
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`EASEL_CONFIG: cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch (err) {
    throw new ConfigError(`EASEL_CONFIG: ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`EASEL_CONFIG: ${file} must hold a mapping at the top level.`);
  return parsed as FileConfig;
}
