import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors.js';
import { findWeightsIn, pathKind } from './tensor-source.js';
import type { ComponentName, ModelProblem } from './types.js';

export type LayoutName = 'diffusers' | 'original' | 'files';

/** Explicit files per component (ComfyUI split files, or any mix of files and component folders). */
export interface ModelFiles {
  transformer?: string; // .safetensors, .safetensors.index.json, .gguf, or a folder with config.json + weights
  textEncoder?: string; // same; a folder may hold an Ovis2.5 config.json (llm_config)
  vae?: string; // same
  tokenizer?: string; // folder with tokenizer.json (or the tokenizer.json file itself)
  scheduler?: string; // scheduler_config.json or its folder (optional: official defaults otherwise)
}

export interface WeightsLocation {
  weights: string; // absolute .safetensors, .safetensors.index.json or .gguf
  config: string | undefined; // absolute config.json when there is one
}

export interface LayoutFiles {
  layout: LayoutName;
  root: string | undefined;
  transformer: WeightsLocation | undefined;
  textEncoder: WeightsLocation | undefined;
  vae: WeightsLocation | undefined;
  tokenizerDir: string | undefined;
  schedulerConfig: string | undefined;
  problems: ModelProblem[];
}

const OFFICIAL_TRANSFORMER = 'ovis_image';
const OFFICIAL_VAE = 'ae.safetensors';
const OFFICIAL_LLM_DIR = 'Ovis2.5-2B';

const missing = (component: ComponentName, file: string, what: string): ModelProblem => ({
  code: 'MODEL_MISSING_COMPONENT',
  component,
  file,
  tensor: undefined,
  message: `${file}: ${what}`,
});

/** The path when something other than a folder is there: a FIFO or device is then refused by its reader, not skipped. */
async function fileOrUndefined(p: string): Promise<string | undefined> {
  const kind = await pathKind(p);
  return kind === 'file' || kind === 'other' ? p : undefined;
}

/** `<stem>.config.json` or `<stem>.json` next to a weights file: an optional config for single files. */
async function sidecarConfig(weights: string): Promise<string | undefined> {
  const stem = weights.replace(/\.(safetensors(\.index\.json)?|gguf)$/, '');
  return (await fileOrUndefined(`${stem}.config.json`)) ?? (await fileOrUndefined(`${stem}.json`));
}

/** A component given as a weights file or as a folder holding config.json and its weights. */
async function locateWeights(component: ComponentName, p: string, preferred: string[], problems: ModelProblem[]): Promise<WeightsLocation | undefined> {
  const abs = path.resolve(p);
  const kind = await pathKind(abs);
  if (kind === 'file' || kind === 'other') return { weights: abs, config: await sidecarConfig(abs) };
  if (kind === 'dir') {
    const weights = await findWeightsIn(abs, preferred);
    if (!weights) {
      problems.push(missing(component, abs, `no .safetensors (or .gguf) weights in this ${component} folder`));
      return undefined;
    }
    return { weights, config: await fileOrUndefined(path.join(abs, 'config.json')) };
  }
  problems.push(missing(component, abs, `the ${component} folder is missing`));
  return undefined;
}

/** Finds which layout a path is and where each component's files are; component gaps become problems. */
export async function detectLayout(input: string | ModelFiles): Promise<LayoutFiles> {
  if (typeof input !== 'string') return explicitFiles(input);
  const root = path.resolve(input);
  const kind = await pathKind(root);
  if (!kind) throw new ModelLoadError('MODEL_NOT_FOUND', `${root}: no such file or folder`, { file: root });
  if (kind === 'other') throw new ModelLoadError('MODEL_BAD_FILE', `${root}: is a FIFO, device or socket; expected a model folder`, { file: root });
  if (kind === 'file') {
    throw new ModelLoadError('MODEL_UNKNOWN_LAYOUT', `${root}: is a single file; pass the model folder, or each component's file (transformer, text encoder, VAE, tokenizer)`, { file: root });
  }
  const names = await readdir(root);
  if (names.includes('model_index.json') || names.includes('transformer')) return diffusersLayout(root);
  if (names.some((n) => n.startsWith(OFFICIAL_TRANSFORMER) && (n.includes('.safetensors') || n.endsWith('.gguf'))) || names.includes(OFFICIAL_VAE) || names.includes(OFFICIAL_LLM_DIR)) {
    return originalLayout(root, names);
  }
  throw new ModelLoadError(
    'MODEL_UNKNOWN_LAYOUT',
    `${root}: not a known model layout (expected model_index.json + transformer/ text_encoder/ tokenizer/ vae/ (diffusers), or ${OFFICIAL_TRANSFORMER}.safetensors + ${OFFICIAL_VAE} + ${OFFICIAL_LLM_DIR}/ (official files))`,
    { file: root },
  );
}

async function diffusersLayout(root: string): Promise<LayoutFiles> {
  const problems: ModelProblem[] = [];
  const sub = (name: string): string => path.join(root, name);
  const tokenizerDir = sub('tokenizer');
  if ((await pathKind(tokenizerDir)) !== 'dir') problems.push(missing('tokenizer', tokenizerDir, 'the tokenizer folder is missing'));
  return {
    layout: 'diffusers',
    root,
    transformer: await locateWeights('transformer', sub('transformer'), ['diffusion_pytorch_model'], problems),
    textEncoder: await locateWeights('textEncoder', sub('text_encoder'), ['model'], problems),
    vae: await locateWeights('vae', sub('vae'), ['diffusion_pytorch_model'], problems),
    tokenizerDir: (await pathKind(tokenizerDir)) === 'dir' ? tokenizerDir : undefined,
    schedulerConfig: await fileOrUndefined(path.join(root, 'scheduler', 'scheduler_config.json')),
    problems,
  };
}

async function originalLayout(root: string, names: string[]): Promise<LayoutFiles> {
  const problems: ModelProblem[] = [];
  const candidates = names.filter((n) => n.startsWith(OFFICIAL_TRANSFORMER) && (n.endsWith('.safetensors') || n.endsWith('.safetensors.index.json') || n.endsWith('.gguf'))).sort();
  const transformerName =
    candidates.find((n) => n.endsWith('.index.json')) ??
    candidates.find((n) => n === `${OFFICIAL_TRANSFORMER}.safetensors`) ??
    candidates.find((n) => n.endsWith('.safetensors')) ??
    candidates[0];
  let transformer: WeightsLocation | undefined;
  if (transformerName) {
    const weights = path.join(root, transformerName);
    transformer = { weights, config: await sidecarConfig(weights) };
  } else {
    problems.push(missing('transformer', path.join(root, `${OFFICIAL_TRANSFORMER}.safetensors`), 'the MMDiT weights file is missing'));
  }
  const vaeFile = path.join(root, OFFICIAL_VAE);
  const vae = (await fileOrUndefined(vaeFile)) ? { weights: vaeFile, config: await sidecarConfig(vaeFile) } : undefined;
  if (!vae) problems.push(missing('vae', vaeFile, 'the VAE weights file is missing'));
  const llmDir = path.join(root, OFFICIAL_LLM_DIR);
  const textEncoder = await locateWeights('textEncoder', llmDir, ['model'], problems);
  return {
    layout: 'original',
    root,
    transformer,
    textEncoder,
    vae,
    tokenizerDir: (await pathKind(llmDir)) === 'dir' ? llmDir : undefined,
    schedulerConfig: undefined,
    problems,
  };
}

async function explicitFiles(files: ModelFiles): Promise<LayoutFiles> {
  for (const [name, p] of Object.entries(files)) {
    if (p !== undefined && !(await pathKind(path.resolve(p)))) {
      throw new ModelLoadError('MODEL_NOT_FOUND', `${path.resolve(p)}: no such file or folder (given as the ${name})`, { file: path.resolve(p) });
    }
  }
  const problems: ModelProblem[] = [];
  const need = async (component: 'transformer' | 'textEncoder' | 'vae', preferred: string[]): Promise<WeightsLocation | undefined> => {
    const p = files[component];
    if (p !== undefined) return locateWeights(component, p, preferred, problems);
    problems.push({ code: 'MODEL_MISSING_COMPONENT', component, file: undefined, tensor: undefined, message: `no ${component} given` });
    return undefined;
  };
  const transformer = await need('transformer', ['diffusion_pytorch_model']);
  const textEncoder = await need('textEncoder', ['model']);
  const vae = await need('vae', ['diffusion_pytorch_model']);
  let tokenizerDir: string | undefined;
  if (files.tokenizer !== undefined) {
    const abs = path.resolve(files.tokenizer);
    tokenizerDir = (await pathKind(abs)) === 'dir' ? abs : path.dirname(abs);
  } else if (files.textEncoder !== undefined && (await pathKind(path.resolve(files.textEncoder))) === 'dir') {
    tokenizerDir = path.resolve(files.textEncoder); // an Ovis2.5 folder carries its tokenizer
  } else {
    problems.push({ code: 'MODEL_MISSING_COMPONENT', component: 'tokenizer', file: undefined, tensor: undefined, message: 'no tokenizer given (a folder with tokenizer.json)' });
  }
  let schedulerConfig: string | undefined;
  if (files.scheduler !== undefined) {
    const abs = path.resolve(files.scheduler);
    schedulerConfig = (await pathKind(abs)) === 'dir' ? path.join(abs, 'scheduler_config.json') : abs;
  }
  return { layout: 'files', root: undefined, transformer, textEncoder, vae, tokenizerDir, schedulerConfig, problems };
}
