/**
 * Builds the pipeline's parts from a model: fetch it from the Hub when it is a model id (lib/hub),
 * resolve the checkpoint (lib/model), load the tokenizer (lib/tokenizer), pick the addon and device and
 * start the native engine with the weight plan (lib/native).
 */
import path from 'node:path';
import { OvisError } from '../errors.js';
import { throwIfAborted } from './abort.js';
import { downloadModel, isHubModelId } from '../hub/index.js';
import { assertUsable, formatPlanText, resolveModel, type ResolvedModel, type WeightPlan } from '../model/index.js';
import { quantizeOnLoad } from '../model/plan-quantize.js';
import { cpuPrecisionNote } from '../native/cpu-precision.js';
import { cpuBackend, formatBackendInfo, NativeModelEngine, selectBackend, type BackendInfo } from '../native/index.js';
import type { NativeBinding } from '../../types/native.js';
import { PREFIX_TOKENS, PromptTokenizer } from '../tokenizer/index.js';
import type { ModelSource } from './model-source.js';
import type { LoadProgress, ResolvedLoadOptions } from './options.js';
import type { PipelineParts } from './parts.js';

export { checkModelSource, type ModelSource } from './model-source.js';

type Report = (phase: LoadProgress['phase'], message: string, extra?: Partial<LoadProgress>) => void;

export async function loadPipelineParts(model: ModelSource, options: ResolvedLoadOptions): Promise<PipelineParts> {
  const progress: Report = (phase, message, extra) => {
    options.onProgress?.({ phase, message, ...extra });
  };
  const checkAbort = (): void => throwIfAborted(options.signal, 'Loading was aborted');
  checkAbort();
  const hubId = typeof model === 'string' && isHubModelId(model) ? model : undefined;
  const local = hubId ? await fetchFromHub(hubId, options.signal, progress) : model;
  checkAbort();
  progress('resolve', 'reading configs and tensor headers');
  const resolved = assertUsable(await resolveModel(local));
  checkAbort();
  progress('tokenizer', 'loading the tokenizer');
  const tokenizer = await PromptTokenizer.load(resolved.components.tokenizer.dir!);
  checkAbort();
  const plan = quantizedPlan(resolved.plan, options, progress);
  const { engine, info } = await startEngine(formatPlanText(plan), options, progress);
  progress('ready', `ready on ${engine.backendName}`);
  return {
    engine,
    tokenizer,
    scheduler: resolved.components.scheduler.config,
    dropPrefix: PREFIX_TOKENS,
    modelName: hubId ?? modelName(model, resolved),
    backendInfo: info,
  };
}

/** The plan with the `weights` / `textEncoderWeights` choices applied (quantize on load). */
function quantizedPlan(plan: WeightPlan, options: ResolvedLoadOptions, progress: Report): WeightPlan {
  for (const [prefix, type, what] of [['dit.', options.weights, 'MMDiT'], ['te.', options.textEncoderWeights, 'text encoder']] as const) {
    const r = quantizeOnLoad(plan, prefix, type);
    plan = r.plan;
    if (r.quantized > 0) {
      const kept = r.kept.length ? `; ${r.kept.length} kept as stored (rows not whole ${type} blocks)` : '';
      progress('weights', `quantizing ${r.quantized} ${what} weights to ${type} while loading${kept}`);
    }
  }
  return plan;
}

/** Downloads (or finds in the HF cache) a Hub model; returns its snapshot folder. */
async function fetchFromHub(id: string, signal: AbortSignal | undefined, progress: Report): Promise<string> {
  progress('download', `looking up ${id} in the Hugging Face cache and on the Hub`);
  try {
    return await downloadModel(id, {
      signal,
      onProgress: (p) => progress('download', `downloading ${id}: ${p.file}`, { download: p }),
    });
  } catch (err) {
    if (err instanceof OvisError && err.code === 'HUB_NOT_FOUND') {
      throw new OvisError(err.code, `${err.message} (no local folder "${id}" exists either)`, { cause: err });
    }
    throw err;
  }
}

/**
 * Creates the engine on the chosen backend. With device 'auto', a CUDA engine that cannot start
 * (OVIS_UNAVAILABLE, e.g. cuBLASLt not found) falls back to the CPU and says so.
 */
async function startEngine(planText: string, options: ResolvedLoadOptions, progress: Report): Promise<{ engine: NativeModelEngine; info: BackendInfo }> {
  const create = (binding: NativeBinding, device: string): Promise<NativeModelEngine> =>
    NativeModelEngine.create(planText, {
      device,
      binding,
      threads: options.threads,
      precision: options.precision,
      ...(options.keepTextEncoder !== undefined ? { keepTextEncoder: options.keepTextEncoder } : {}),
      ...(options.offload !== undefined ? { offload: options.offload } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const chosen = await selectBackend(options.device, options.signal ? { signal: options.signal } : {});
  progress('backend', formatBackendInfo(chosen.info));
  const cpuNote = (binding: NativeBinding): void => {
    const note = cpuPrecisionNote(binding, options.precision);
    if (note) progress('backend', note);
  };
  if (chosen.info.backend === 'cpu') cpuNote(chosen.binding);
  // The offload mode as asked ('auto' is resolved by the engine from free memory).
  const offload = options.offload !== undefined ? `, offload ${options.offload}` : '';
  progress('weights', `loading weights on ${chosen.info.device}${offload}`);
  try {
    return { engine: await create(chosen.binding, chosen.info.device), info: chosen.info };
  } catch (err) {
    const fallback = options.device === 'auto' && chosen.info.backend === 'cuda' && err instanceof OvisError && err.code === 'OVIS_UNAVAILABLE';
    if (!fallback) throw err;
    const cpu = cpuBackend('auto', `device 'auto': CPU, because the CUDA engine could not start: ${err.message}`);
    progress('backend', formatBackendInfo(cpu.info));
    cpuNote(cpu.binding);
    progress('weights', `loading weights on cpu${offload}`);
    return { engine: await create(cpu.binding, 'cpu'), info: cpu.info };
  }
}

function modelName(model: ModelSource, resolved: ResolvedModel): string {
  // A snapshot folder of the HF cache (…/models--owner--name/snapshots/<commit>) is named by its repo id.
  const snapshot = resolved.root && /[/\\]models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\][^/\\]+$/.exec(resolved.root);
  if (snapshot) return `${snapshot[1]}/${snapshot[2]}`;
  if (resolved.root) return path.basename(resolved.root);
  if (typeof model === 'string') return path.basename(path.resolve(model));
  const file = resolved.components.transformer.files[0];
  return file ? path.basename(file) : 'ovis-image';
}
