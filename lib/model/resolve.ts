import path from 'node:path';
import { ModelLoadError } from '../errors.js';
import { locateTokenizerFiles } from '../tokenizer/files.js';
import { checkChatTemplate } from '../tokenizer/template-check.js';
import { numel, planBytes } from './dtype.js';
import {
  ditConfigFileSchema,
  parseConfig,
  qwen3ConfigSchema,
  readJsonFile,
  schedulerConfigFileSchema,
  vaeConfigFileSchema,
  type DitConfigFile,
  type Qwen3ConfigFile,
  type VaeConfigFile,
} from './config-schemas.js';
import { resolveDitConfig, resolveSchedulerConfig, resolveTextConfig, resolveVaeConfig } from './config-infer.js';
import { detectLayout, type LayoutName, type ModelFiles, type WeightsLocation } from './layout.js';
import type { TensorSpec } from './plan-spec.js';
import { ditSpecs } from './plan-dit.js';
import { isIgnoredTextKey, textEncoderSpecs } from './plan-te.js';
import { vaeDecoderSpecs, vaeEncoderSpecs } from './plan-vae.js';
import { buildComponentPlan, ditPlanConfig, textPlanConfig, vaePlanConfig, type PlanConfigEntry, type PlanTensor, type WeightPlan } from './plan.js';
import { checkCapacity } from './capacity.js';
import { checkRegularFile } from './regular-file.js';
import { openTensorSource, pathKind } from './tensor-source.js';

const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'chat_template.jinja'];
import type {
  ComponentName,
  ConfigSource,
  DitConfig,
  FileIdentity,
  ModelProblem,
  PlanDType,
  SchedulerConfig,
  TensorSource,
  TextEncoderConfig,
  VaeConfig,
  WeightFormat,
} from './types.js';

/** A weights component as found: files, key format, config and what its canonical tensors add up to. */
export interface WeightsComponent<C> {
  present: boolean; // weights readable and a config resolved (problems may remain)
  files: string[];
  format: WeightFormat | undefined;
  keyPrefix: string;
  config: C | undefined;
  configSource: ConfigSource | undefined;
  dtypes: PlanDType[];
  parameters: number; // elements of its canonical tensors
  tensorCount: number; // canonical tensors planned
  bytes: number; // size of its canonical tensors in their plan dtypes (what the engine holds)
  dequantized: string[]; // canonical tensors assembled from pieces of different block formats: f32 at load
}

export interface VaeComponent extends WeightsComponent<VaeConfig> {
  hasEncoder: boolean;
}

export interface TokenizerComponent {
  present: boolean;
  dir: string | undefined;
  tokenizerJson: string | undefined;
  chatTemplateSource: string | undefined;
}

export interface SchedulerComponent {
  config: SchedulerConfig;
  configSource: ConfigSource;
}

export interface ResolvedModel {
  layout: LayoutName;
  root: string | undefined;
  components: {
    transformer: WeightsComponent<DitConfig>;
    textEncoder: WeightsComponent<TextEncoderConfig>;
    vae: VaeComponent;
    tokenizer: TokenizerComponent;
    scheduler: SchedulerComponent;
  };
  plan: WeightPlan;
  problems: ModelProblem[];
}

const asProblem = (component: ComponentName, err: unknown): ModelProblem => {
  if (err instanceof ModelLoadError) return { code: err.code as ModelProblem['code'], component, message: err.message, file: err.file, tensor: err.tensor };
  throw err;
};

function emptyComponent<C>(): WeightsComponent<C> {
  return { present: false, files: [], format: undefined, keyPrefix: '', config: undefined, configSource: undefined, dtypes: [], parameters: 0, tensorCount: 0, bytes: 0, dequantized: [] };
}

/** The prefix before `marker` in the stored keys (shortest wins), e.g. `model.diffusion_model.`. */
function findPrefix(source: TensorSource, marker: string): string | undefined {
  let best: string | undefined;
  for (const key of source.tensors.keys()) {
    if (key !== marker && !key.endsWith(`.${marker}`)) continue;
    const prefix = key.slice(0, key.length - marker.length);
    if (best === undefined || prefix.length < best.length) best = prefix;
  }
  return best;
}

interface WeightsRecipe<C, F> {
  component: ComponentName;
  /** Key format + prefix from the stored keys; undefined when these are not this component's weights. */
  detect(source: TensorSource): { format: WeightFormat; prefix: string } | undefined;
  expectedKeys: string;
  readConfig(file: string): Promise<F>;
  resolve(source: TensorSource, format: WeightFormat, prefix: string, fileConfig: F | undefined, where: string): C;
  specs(config: C, format: WeightFormat, source: TensorSource, prefix: string): TensorSpec[];
  planConfig(config: C): PlanConfigEntry[];
  ignore?: (key: string) => boolean;
}

async function resolveWeights<C, F>(
  recipe: WeightsRecipe<C, F>,
  location: WeightsLocation | undefined,
  problems: ModelProblem[],
  planConfig: PlanConfigEntry[],
  planTensors: PlanTensor[],
  planFiles: Map<string, FileIdentity>,
): Promise<WeightsComponent<C>> {
  const out = emptyComponent<C>();
  if (!location) return out;
  try {
    const source = await openTensorSource(location.weights);
    out.files = source.files;
    for (const [file, id] of source.identities) planFiles.set(file, id);
    const detected = recipe.detect(source);
    if (!detected) {
      throw new ModelLoadError('TENSOR_MISSING', `${location.weights}: does not look like ${recipe.component} weights (no ${recipe.expectedKeys} tensor)`, { file: location.weights });
    }
    out.format = detected.format;
    out.keyPrefix = detected.prefix;
    const fileConfig = location.config ? await recipe.readConfig(location.config) : undefined;
    const config = recipe.resolve(source, detected.format, detected.prefix, fileConfig, location.config ?? location.weights);
    out.config = config;
    out.configSource = location.config ? { kind: 'file', file: location.config } : { kind: 'inferred', from: location.weights };
    const specs = recipe.specs(config, detected.format, source, detected.prefix);
    checkCapacity(recipe.component, specs, source, detected.prefix, location.config ?? location.weights);
    const built = buildComponentPlan({
      component: recipe.component,
      source,
      prefix: detected.prefix,
      specs,
      where: location.weights,
      ...(recipe.ignore ? { ignore: recipe.ignore } : {}),
    });
    for (const p of built.problems) problems.push(p);
    out.present = true;
    out.tensorCount = built.tensors.length;
    out.parameters = built.tensors.reduce((sum, t) => sum + numel(t.shape), 0);
    out.bytes = built.tensors.reduce((sum, t) => sum + planBytes(t.dtype, numel(t.shape)), 0);
    out.dequantized = built.dequantized;
    out.dtypes = [...new Set(built.tensors.map((t) => t.dtype))].sort();
    for (const entry of recipe.planConfig(config)) planConfig.push(entry);
    for (const t of built.tensors) planTensors.push(t); // no spread: tens of thousands of entries would overflow the stack
  } catch (err) {
    problems.push(asProblem(recipe.component, err));
  }
  return out;
}

const TRANSFORMER: WeightsRecipe<DitConfig, DitConfigFile> = {
  component: 'transformer',
  expectedKeys: 'img_in.weight or x_embedder.weight',
  detect(source) {
    const original = findPrefix(source, 'img_in.weight');
    if (original !== undefined) return { format: 'original', prefix: original };
    const diffusers = findPrefix(source, 'x_embedder.weight');
    return diffusers !== undefined ? { format: 'diffusers', prefix: diffusers } : undefined;
  },
  readConfig: async (file) => parseConfig(ditConfigFileSchema, await readJsonFile(file), file),
  resolve: resolveDitConfig,
  // ComfyUI's text-input names (`txt_in.*`, `txt_norm.scale`) where the official ones are absent
  specs: (config, format, source, prefix) =>
    ditSpecs(config, format, format === 'original' && hasComfyTextNames(source, prefix)),
  planConfig: ditPlanConfig,
};

/** Whether an original-format MMDiT stores its text input under ComfyUI's names rather than the official ones. */
function hasComfyTextNames(source: TensorSource, prefix: string): boolean {
  return source.tensors.has(`${prefix}txt_in.weight`) && !source.tensors.has(`${prefix}semantic_txt_in.weight`);
}

const TEXT_ENCODER: WeightsRecipe<TextEncoderConfig, Qwen3ConfigFile> = {
  component: 'textEncoder',
  expectedKeys: 'embed_tokens.weight',
  detect(source) {
    const prefix = findPrefix(source, 'embed_tokens.weight');
    return prefix !== undefined ? { format: prefix.startsWith('llm.') ? 'original' : 'diffusers', prefix } : undefined;
  },
  async readConfig(file) {
    const json = await readJsonFile(file);
    // Ovis2.5's config.json nests the Qwen3 config under llm_config
    const llm = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['llm_config'] : undefined;
    return llm !== undefined ? parseConfig(qwen3ConfigSchema, llm, file, 'llm_config.') : parseConfig(qwen3ConfigSchema, json, file);
  },
  resolve: (source, _format, prefix, cfg, where) => resolveTextConfig(source, prefix, cfg, where),
  specs: (config) => textEncoderSpecs(config),
  planConfig: textPlanConfig,
  ignore: isIgnoredTextKey,
};

const VAE: WeightsRecipe<VaeConfig, VaeConfigFile> = {
  component: 'vae',
  expectedKeys: 'decoder.conv_in.weight',
  detect(source) {
    const prefix = findPrefix(source, 'decoder.conv_in.weight');
    if (prefix === undefined) return undefined;
    const original = [...source.tensors.keys()].some((k) => k.startsWith(`${prefix}decoder.up.`));
    return { format: original ? 'original' : 'diffusers', prefix };
  },
  readConfig: async (file) => parseConfig(vaeConfigFileSchema, await readJsonFile(file), file),
  resolve: resolveVaeConfig,
  specs(config, format, source, prefix) {
    const specs = vaeDecoderSpecs(config, format);
    return hasEncoder(source, prefix) ? [...specs, ...vaeEncoderSpecs(config, format)] : specs;
  },
  planConfig: vaePlanConfig,
};

function hasEncoder(source: TensorSource, prefix: string): boolean {
  return [...source.tensors.keys()].some((k) => k.startsWith(`${prefix}encoder.`));
}

/** The tokenizer's files that exist must be regular files of sane size before the tokenizer reads them. */
async function checkTokenizerFiles(dirOrFile: string): Promise<void> {
  const dir = dirOrFile.endsWith('.json') ? path.dirname(dirOrFile) : dirOrFile;
  for (const name of TOKENIZER_FILES) {
    const file = path.join(dir, name);
    if ((await pathKind(file)) !== undefined) await checkRegularFile(file);
  }
}

async function resolveTokenizer(dir: string | undefined, problems: ModelProblem[]): Promise<TokenizerComponent> {
  if (!dir) return { present: false, dir: undefined, tokenizerJson: undefined, chatTemplateSource: undefined };
  try {
    await checkTokenizerFiles(dir);
    const files = await locateTokenizerFiles(dir);
    await checkChatTemplate(files.chatTemplate, files.chatTemplateSource); // loops, throws, drops the prompt: a problem `info` lists
    return { present: true, dir, tokenizerJson: files.tokenizerJson, chatTemplateSource: files.chatTemplateSource };
  } catch (err) {
    problems.push(asProblem('tokenizer', err));
    return { present: false, dir, tokenizerJson: undefined, chatTemplateSource: undefined };
  }
}

async function resolveScheduler(file: string | undefined, problems: ModelProblem[]): Promise<SchedulerComponent> {
  if (!file) return { config: resolveSchedulerConfig(undefined), configSource: { kind: 'defaults' } };
  try {
    const parsed = parseConfig(schedulerConfigFileSchema, await readJsonFile(file), file);
    return { config: resolveSchedulerConfig(parsed, file), configSource: { kind: 'file', file } };
  } catch (err) {
    problems.push(asProblem('scheduler', err));
    return { config: resolveSchedulerConfig(undefined), configSource: { kind: 'defaults' } };
  }
}

/**
 * Finds a model's layout, files and configs, and builds its weight plan. Throws ModelLoadError only
 * when the path is missing or no known layout; everything else wrong is listed in `problems`.
 */
export async function resolveModel(pathOrFiles: string | ModelFiles): Promise<ResolvedModel> {
  const layout = await detectLayout(pathOrFiles);
  const problems = [...layout.problems];
  const config: PlanConfigEntry[] = [];
  const tensors: PlanTensor[] = [];
  const files = new Map<string, FileIdentity>();
  const transformer = await resolveWeights(TRANSFORMER, layout.transformer, problems, config, tensors, files);
  const textEncoder = await resolveWeights(TEXT_ENCODER, layout.textEncoder, problems, config, tensors, files);
  const vaeBase = await resolveWeights(VAE, layout.vae, problems, config, tensors, files);
  const vae: VaeComponent = { ...vaeBase, hasEncoder: tensors.some((t) => t.name.startsWith('vae.enc.')) };
  const tokenizer = await resolveTokenizer(layout.tokenizerDir, problems);
  const scheduler = await resolveScheduler(layout.schedulerConfig, problems);
  return {
    layout: layout.layout,
    root: layout.root,
    components: { transformer, textEncoder, vae, tokenizer, scheduler },
    plan: { config, tensors, files },
    problems,
  };
}

/** Problems of the given components only (e.g. a decode-only user need not care about the tokenizer). */
export function problemsOf(model: ResolvedModel, components: readonly ComponentName[]): ModelProblem[] {
  return model.problems.filter((p) => p.component === undefined || components.includes(p.component));
}

/** Throws the first problem as a ModelLoadError (what loading does); returns the model when clean. */
export function assertUsable(model: ResolvedModel, components?: readonly ComponentName[]): ResolvedModel {
  const first = (components ? problemsOf(model, components) : model.problems)[0];
  if (first) throw new ModelLoadError(first.code, first.message, { ...(first.file ? { file: first.file } : {}), ...(first.tensor ? { tensor: first.tensor } : {}) });
  return model;
}

export const describeConfigSource = (s: ConfigSource | undefined): string =>
  !s ? 'none' : s.kind === 'file' ? s.file : s.kind === 'inferred' ? `inferred from tensor shapes in ${path.basename(s.from)}` : 'official defaults';
