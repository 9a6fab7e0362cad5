/**
 * Which addon and device a load gets, decided from what the CUDA probe found. Pure: the probe is
 * passed in, so the rules are unit-tested without a GPU (test/native-backend-choice.test.ts).
 */
import { OvisError } from '../errors.js';

/** Which build of the addon: the CPU one (prebuilt or node-gyp) or the CUDA one (cmake-js, optional). */
export type BindingKind = 'cpu' | 'cuda';

/** What loading the CUDA addon in a child process found: GPUs counted, or why it is not usable. */
export type CudaProbeResult =
  | { ok: true; addonPath: string; deviceCount: number }
  | { ok: false; addonPath: string | undefined; reason: string };

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
 * 'cpu' never probes. 'auto' takes CUDA when the CUDA addon loads and sees a GPU, else the CPU, saying
 * why. 'cuda' / 'cuda:N' without a usable CUDA throws OvisError('OVIS_UNAVAILABLE') with the reason.
 */
export function chooseBackend(requested: string, probe: () => CudaProbeResult): BackendChoice {
  if (requested === 'cpu') return { kind: 'cpu', device: 'cpu', reason: "device 'cpu' was asked for" };
  const index = /^cuda:(\d+)$/.exec(requested);
  if (requested !== 'auto' && requested !== 'cuda' && !index) {
    throw new OvisError('OVIS_INVALID_OPTIONS', `device must be 'auto', 'cpu', 'cuda' or 'cuda:N' (got ${JSON.stringify(requested)})`);
  }
  const p = probe();
  if (requested === 'auto') {
    if (!p.ok) return { kind: 'cpu', device: 'cpu', reason: `device 'auto': CPU, because CUDA is not usable: ${p.reason}` };
    if (p.deviceCount === 0) {
      return { kind: 'cpu', device: 'cpu', reason: `device 'auto': CPU, because the CUDA addon (${p.addonPath}) loads but sees no GPU` };
    }
    return { kind: 'cuda', device: 'cuda', reason: `device 'auto': CUDA, the CUDA addon (${p.addonPath}) loads and sees ${gpus(p.deviceCount)}` };
  }
  const unavailable = (why: string): OvisError =>
    new OvisError('OVIS_UNAVAILABLE', `device '${requested}' was asked for but CUDA is not usable: ${why}. Use device 'auto' or 'cpu' to run on the CPU.`);
  if (!p.ok) throw unavailable(p.reason);
  if (p.deviceCount === 0) {
    throw unavailable(`the CUDA addon (${p.addonPath}) loads but sees no GPU (check the NVIDIA driver, nvidia-smi and CUDA_VISIBLE_DEVICES)`);
  }
  const n = index ? Number(index[1]) : 0;
  if (n >= p.deviceCount) throw unavailable(`there is no GPU ${n}: ${gpus(p.deviceCount)} visible (numbered from 0)`);
  return { kind: 'cuda', device: requested, reason: `device '${requested}': the CUDA addon (${p.addonPath}) loads and sees ${gpus(p.deviceCount)}` };
}
