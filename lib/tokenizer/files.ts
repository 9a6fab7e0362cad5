import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors.js';

export interface TokenizerFiles {
  dir: string;
  tokenizerJson: string; // absolute path of tokenizer.json
  tokenizerConfig: Record<string, unknown>; // tokenizer_config.json ({} when absent)
  chatTemplate: string;
  chatTemplateSource: string; // the file the template came from
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** A template given as a string, or as a list of named templates (the `default` one is ours). */
function templateFrom(config: Record<string, unknown>): string | undefined {
  const t = config['chat_template'];
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.find((e: unknown) => typeof e === 'object' && e !== null && (e as Record<string, unknown>)['name'] === 'default');
    const template = named ? (named as Record<string, unknown>)['template'] : undefined;
    return typeof template === 'string' ? template : undefined;
  }
  return undefined;
}

/** Finds tokenizer.json and the chat template (chat_template.jinja, else tokenizer_config.json). */
export async function locateTokenizerFiles(dirOrFile: string): Promise<TokenizerFiles> {
  const abs = path.resolve(dirOrFile);
  const dir = abs.endsWith('.json') ? path.dirname(abs) : abs;
  const tokenizerJson = path.join(dir, 'tokenizer.json');
  if (!(await stat(tokenizerJson).then((s) => s.isFile(), () => false))) {
    throw new ModelLoadError('MODEL_MISSING_COMPONENT', `${tokenizerJson}: the tokenizer file is missing`, { file: tokenizerJson });
  }
  const configFile = path.join(dir, 'tokenizer_config.json');
  const configText = await readText(configFile);
  let tokenizerConfig: Record<string, unknown> = {};
  if (configText !== undefined) {
    try {
      const parsed: unknown = JSON.parse(configText);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
      tokenizerConfig = parsed as Record<string, unknown>;
    } catch (err) {
      throw new ModelLoadError('MODEL_BAD_CONFIG', `${configFile}: cannot read: ${(err as Error).message}`, { file: configFile });
    }
  }
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  const jinja = await readText(jinjaFile);
  if (jinja !== undefined) return { dir, tokenizerJson, tokenizerConfig, chatTemplate: jinja, chatTemplateSource: jinjaFile };
  const fromConfig = templateFrom(tokenizerConfig);
  if (fromConfig !== undefined) return { dir, tokenizerJson, tokenizerConfig, chatTemplate: fromConfig, chatTemplateSource: configFile };
  throw new ModelLoadError('MODEL_MISSING_COMPONENT', `${dir}: no chat template (expected chat_template.jinja, or chat_template in tokenizer_config.json)`, { file: jinjaFile });
}
