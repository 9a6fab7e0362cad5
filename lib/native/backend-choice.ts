/**
 * Which addon and device a load gets, decided from what the CUDA probe found. Pure: the probe is
 * passed in, so the rules are unit-tested without a GPU (test/native-backend-choice.test.ts).
 */
import { cublasMissingReason, type CublasSearch } from '../cuda-libs/index.js';
import { OvisError } from '../errors.js';
import { gpuProblem, type CudaInfo } from './cuda-checks.js';

/** Which build of the addon: the CPU one (prebuilt or node-gyp) or the CUDA one (cmake-js, optional). */
export type BindingKind = 'cpu' | 'cuda';

/**
 * What loading the CUDA addon in a child process found: GPUs counted (and, from addons that have
 * cudaInfo(), the driver, the GPUs and the archs compiled in), or why it is not usable.
 */
export type CudaProbeResult =
  | { ok: true; addonPath: string; deviceCount: number; info?: CudaInfo }
  | { ok: false; addonPath: string | undefined; reason: string; info?: CudaInfo };

export interface BackendChoice {
  kind: BindingKind;
  /** The device string the engine gets: 'cpu', 'cuda' or 'cuda:N'. */
  device: string;
  /** One sentence saying why, for `--verbose`, `info` and OvisImage#backendInfo. */
  reason: string;
}

function gpus(n: number): string {
  return `${n} GPU${n === 1 ? '' : 's'}`;
}

/**
 * 'cpu' never probes. 'auto' takes CUDA when the CUDA addon loads, sees a GPU whose arch it has code for,
 * and cuBLASLt 13 is found; else the CPU, saying why. 'cuda' / 'cuda:N' without all that throws
 * OvisError('OVIS_UNAVAILABLE') naming the fix. `cublas` is asked only once CUDA could run.
 */
export function chooseBackend(requested: string, probe: () => CudaProbeResult, cublas?: () => CublasSearch | undefined): BackendChoice {
  if (requested === 'cpu') return { kind: 'cpu', device: 'cpu', reason: "device 'cpu' was asked for" };
  const index = /^cuda:(\d+)$/.exec(requested);
  if (requested !== 'auto' && requested !== 'cuda' && !index) {
    throw new OvisError('OVIS_INVALID_OPTIONS', `device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got ${JSON.stringify(requested)})`);
  }
  const why = cudaBlocker(probe(), index ? Number(index[1]) : 0, cublas);
  if (requested === 'auto') {
    if (why) return { kind: 'cpu', device: 'cpu', reason: `device 'auto': CPU, because CUDA is not usable: ${why}` };
    const p = probe() as Extract<CudaProbeResult, { ok: true }>;
    return { kind: 'cuda', device: 'cuda', reason: `device 'auto': CUDA, the CUDA addon (${p.addonPath}) loads and sees ${gpus(p.deviceCount)}` };
  }
  if (why) {
    throw new OvisError('OVIS_UNAVAILABLE', `device '${requested}' was asked for but CUDA is not usable: ${why}. Use device 'auto' or 'cpu' to run on the CPU.`);
  }
  const p = probe() as Extract<CudaProbeResult, { ok: true }>;
  return { kind: 'cuda', device: requested, reason: `device '${requested}': the CUDA addon (${p.addonPath}) loads and sees ${gpus(p.deviceCount)}` };
}

/** Why GPU n cannot run under this probe result and cuBLAS search, or undefined when it can. */
function cudaBlocker(p: CudaProbeResult, n: number, cublas: (() => CublasSearch | undefined) | undefined): string | undefined {
  if (!p.ok) return p.reason;
  if (p.deviceCount === 0) return `the CUDA addon (${p.addonPath}) loads but sees no GPU (check the NVIDIA driver, nvidia-smi and CUDA_VISIBLE_DEVICES)`;
  if (n >= p.deviceCount) return `there is no GPU ${n}: ${gpus(p.deviceCount)} visible (numbered from 0)`;
  const arch = p.info ? gpuProblem(p.info, n) : undefined;
  if (arch) return arch;
  const search = cublas?.();
  if (search && !search.found) return cublasMissingReason(search);
  return undefined;
}
