import { Option, type Command } from 'commander';
import { DEFAULT_MODEL_ID, downloadModel, isHubModelId } from '../hub/index.js';
import type { ModelFiles } from '../model/index.js';
import { createDownloadProgressBar } from './download.js';

export interface ModelOptionValues {
  model?: string;
  transformer?: string;
  textEncoder?: string;
  vae?: string;
  tokenizer?: string;
  scheduler?: string;
}

/** Adds `-m <folder|id>` and the split-file options shared by every command that needs a model. */
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
    .addOption(new Option('--scheduler <file>', 'scheduler_config.json (optional; official defaults otherwise)'));
}

/**
 * The model the options name: a folder or Hub id, or files per component; DEFAULT_MODEL_ID when none
 * is given. Usage errors exit with code 2.
 */
export function modelFromOptions(command: Command, o: ModelOptionValues): string | ModelFiles {
  const split: ModelFiles = {};
  if (o.transformer !== undefined) split.transformer = o.transformer;
  if (o.textEncoder !== undefined) split.textEncoder = o.textEncoder;
  if (o.vae !== undefined) split.vae = o.vae;
  if (o.tokenizer !== undefined) split.tokenizer = o.tokenizer;
  if (o.scheduler !== undefined) split.scheduler = o.scheduler;
  const hasSplit = Object.keys(split).length > 0;
  if (o.model !== undefined && hasSplit) {
    command.error('error: give either -m <folder|id> or the split-file options (--transformer, --text-encoder, --vae, --tokenizer), not both', { exitCode: 2, code: 'ovis.usage' });
  }
  if (o.model !== undefined) return o.model;
  return hasSplit ? split : DEFAULT_MODEL_ID;
}

/**
 * For commands that read the files themselves (info, tokenize): a Hub id becomes its snapshot folder
 * in the HF cache, downloaded first when needed, with a progress bar on a terminal's stderr.
 */
export async function localModel(model: string | ModelFiles): Promise<string | ModelFiles> {
  if (typeof model !== 'string' || !isHubModelId(model)) return model;
  const bar = process.stderr.isTTY ? createDownloadProgressBar() : undefined;
  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    return await downloadModel(model, { onProgress: bar?.onProgress, signal: abort.signal });
  } finally {
    bar?.stop();
    process.off('SIGINT', onSigint);
  }
}
