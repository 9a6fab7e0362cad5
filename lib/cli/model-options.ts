import { existsSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { DEFAULT_MODEL_ID, downloadModel, isHubModelId, type DownloadProgress } from '../hub/index.js';
import { detectLayout, type ModelFiles } from '../model/index.js';
import { CACHE_DIR_HELP, createDownloadProgressBar } from './download.js';
import { FLAG_OF_FIELD } from './flag-names.js';
import { UsageError } from './usage-error.js';

export interface ModelOptionValues {
  model?: string;
  transformer?: string;
  textEncoder?: string;
  vae?: string;
  tokenizer?: string;
  scheduler?: string;
  cacheDir?: string;
}

/** Adds `-m <folder|id>`, the split-file options and `--cache-dir` shared by every command that needs a model. */
export function addModelOptions(command: Command): Command {
  return command
    .option(
      '-m, --model <path|id>',
      `model folder (diffusers repo layout or the official single files), or a Hugging Face model id owner/name[@revision] (default: ${DEFAULT_MODEL_ID})`,
    )
    .addOption(new Option('--transformer <file>', 'MMDiT weights (.safetensors, shard index, or folder) for split files'))
    .addOption(new Option('--text-encoder <file>', 'text encoder weights (Ovis2.5 / Qwen3) for split files'))
    .addOption(new Option('--vae <file>', 'VAE weights (FLUX.1 ae.safetensors) for split files'))
    .addOption(new Option('--tokenizer <dir>', 'folder with tokenizer.json and the chat template'))
    .addOption(new Option('--scheduler <file>', 'scheduler_config.json (optional; official defaults otherwise)'))
    .option('--cache-dir <dir>', CACHE_DIR_HELP);
}

const SPLIT_FIELDS = ['transformer', 'textEncoder', 'vae', 'tokenizer', 'scheduler'] as const;

/**
 * The model the options name: a folder or Hub id, or files per component; DEFAULT_MODEL_ID when none
 * is given. `needed` split files must all be given (tokenize needs only the tokenizer). Usage errors exit 2.
 */
export function modelFromOptions(o: ModelOptionValues, needed: readonly (keyof ModelFiles)[] = ['transformer', 'textEncoder', 'vae']): string | ModelFiles {
  const split: ModelFiles = {};
  for (const field of SPLIT_FIELDS) if (o[field] !== undefined) split[field] = o[field];
  const given = Object.keys(split) as (keyof ModelFiles)[];
  if (o.model !== undefined && given.length) {
    throw new UsageError('give either -m <folder|id> or the split-file options (--transformer, --text-encoder, --vae, --tokenizer), not both');
  }
  for (const field of given) {
    if (!existsSync(path.resolve(split[field]!))) throw new UsageError(`${FLAG_OF_FIELD[field]} ${split[field]}: no such file or folder`);
  }
  const hasSplit = given.length > 0;
  if (o.model !== undefined) return o.model;
  if (!hasSplit) return DEFAULT_MODEL_ID;
  const missing = needed.filter((f) => split[f] === undefined).map((f) => FLAG_OF_FIELD[f]);
  if (missing.length) throw new UsageError(`split files need ${missing.join(', ')} too (or give a model folder with -m)`);
  return split;
}

export interface LocalModelOptions {
  cacheDir?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Progress of a download; default: a bar on a terminal's stderr, nothing otherwise. */
  onProgress?: ((p: DownloadProgress) => void) | undefined;
}

/**
 * For commands that read the files themselves: a Hub id (not shadowed by a local folder of that name)
 * becomes its snapshot folder in the HF cache, downloaded first when needed.
 */
export async function localModel(model: string | ModelFiles, o: LocalModelOptions = {}): Promise<string | ModelFiles> {
  if (typeof model !== 'string' || !isHubModelId(model)) return model;
  const bar = o.onProgress === undefined && process.stderr.isTTY ? createDownloadProgressBar() : undefined;
  try {
    return await downloadModel(model, { cacheDir: o.cacheDir, onProgress: o.onProgress ?? bar?.onProgress, signal: o.signal });
  } finally {
    bar?.stop();
  }
}

/** The tokenizer folder of a local model, found without reading any weights; undefined when there is none. */
export async function tokenizerDirOf(model: string | ModelFiles): Promise<string | undefined> {
  if (typeof model !== 'string' && model.tokenizer !== undefined) return model.tokenizer;
  return (await detectLayout(model)).tokenizerDir;
}
