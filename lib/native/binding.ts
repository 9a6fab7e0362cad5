/**
 * Loads the native addon (cpp/addon) and decides which variant a load uses:
 * - the CPU addon: prebuilds/<platform>-<arch>/ (shipped, N-API) or build/Release (node-gyp on this machine);
 * - the CUDA addon (prebuilds-cuda/<platform>-<arch>/, shipped, or build-cuda/ in a clone): only after a
 *   child process has loaded it and counted the GPUs (cuda-probe.ts), so a broken driver cannot crash the app.
 * What was chosen and why is kept as a BackendInfo (OvisImage#backendInfo, `--verbose`, `info`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { NativeBinding } from '../../types/native.js';
import { findCublasLt, type CublasSearch } from '../cuda-libs/index.js';
import { OvisError } from '../errors.js';
import type { BackendInfo } from './backend-info.js';
import { cpuAddonPath, cudaAddonCandidates, type CpuAddonSource } from './addon-files.js';
import { chooseBackend, type BindingKind, type CudaProbeResult } from './backend-choice.js';
import { cachedProbe, noCudaAddon, probeCuda, type ProbeOptions } from './cuda-probe.js';

export { packageRoot } from './addon-files.js';
export type { BindingKind } from './backend-choice.js';
export type { BackendInfo } from './backend-info.js';

const require = createRequire(import.meta.url);

const byFile = new Map<string, NativeBinding>();

function isBinding(value: unknown): value is NativeBinding {
  const b = value as Partial<NativeBinding> | null;
  return (
    typeof b === 'object' &&
    b !== null &&
    typeof b.Engine === 'function' &&
    typeof b.backends === 'function' &&
    typeof b.cudaDeviceCount === 'function' &&
    typeof b.version === 'string'
  );
}

function requireAddon(file: string, what: string): NativeBinding {
  const cached = byFile.get(file);
  if (cached) return cached;
  let candidate: unknown;
  try {
    candidate = require(file);
  } catch (err) {
    throw new OvisError('OVIS_UNAVAILABLE', `the ${what} addon ${file} could not be loaded: ${(err as Error).message.trim()}`, { cause: err });
  }
  if (!isBinding(candidate)) {
    throw new OvisError('OVIS_UNAVAILABLE', `the ${what} addon ${file} does not export Engine, backends, cudaDeviceCount and version`);
  }
  byFile.set(file, candidate);
  return candidate;
}

/**
 * The CPU addon, loaded once. Throws OvisError('OVIS_UNAVAILABLE') in one line saying what to run;
 * the folders node-gyp-build searched are in the error's `cause`.
 */
export function loadCpuBinding(): { binding: NativeBinding; file: string; source: CpuAddonSource } {
  let found: { file: string; source: CpuAddonSource };
  try {
    found = cpuAddonPath();
  } catch (err) {
    throw new OvisError(
      'OVIS_UNAVAILABLE',
      `the CPU native addon of ovis-image is missing (no prebuilt binary for ${process.platform}-${process.arch}, none built, e.g. after --ignore-scripts): ` +
        'run `npm rebuild ovis-image --build-from-source` (needs Python 3 and a C++17 compiler)',
      { cause: err },
    );
  }
  return { binding: requireAddon(found.file, 'CPU'), ...found };
}

function cudaBindingFrom(p: CudaProbeResult): { binding: NativeBinding; file: string; deviceCount: number } {
  if (!p.ok) throw new OvisError('OVIS_UNAVAILABLE', `the CUDA native addon of ovis-image is not usable: ${p.reason}`);
  const binding = requireAddon(p.addonPath, 'CUDA');
  if (!binding.backends().includes('cuda')) throw new OvisError('OVIS_UNAVAILABLE', `the CUDA addon ${p.addonPath} was built without CUDA`);
  return { binding, file: p.addonPath, deviceCount: p.deviceCount };
}

/** The CUDA addon, after a successful probe (cuda-probe.ts). Throws OvisError('OVIS_UNAVAILABLE') with the probe's reason. */
export async function loadCudaBinding(options: ProbeOptions = {}): Promise<{ binding: NativeBinding; file: string; deviceCount: number }> {
  return cudaBindingFrom(await probeCuda(options));
}

/**
 * Loads (once) and returns the addon of that kind. Synchronous, so the CUDA addon must have been probed
 * already (selectBackend, loadCudaBinding); see loadCpuBinding / loadCudaBinding for errors.
 */
export function loadBinding(kind: BindingKind = 'cpu'): NativeBinding {
  if (kind === 'cpu') return loadCpuBinding().binding;
  const candidates = cudaAddonCandidates();
  const probed = cachedProbe(candidates);
  if (probed) return cudaBindingFrom(probed).binding;
  if (!candidates.some((f) => existsSync(f))) return cudaBindingFrom(noCudaAddon(candidates)).binding;
  throw new OvisError('OVIS_UNAVAILABLE', 'the CUDA addon has not been probed yet in this process: use `await loadCudaBinding()` first');
}

/**
 * Picks the addon and device for a `device` option (backend-choice.ts) and loads that addon: probes the
 * CUDA addon in a child process (not for 'cpu') and, when CUDA could run, finds cuBLASLt 13 and passes
 * its path to the addon in OVIS_CUBLASLT_PATH (unless that is set). `probe` and `cublas` replace the
 * real ones (tests).
 */
export async function selectBackend(
  requested: string,
  options: { signal?: AbortSignal; probe?: () => Promise<CudaProbeResult>; cublas?: () => Promise<CublasSearch> } = {},
): Promise<{ binding: NativeBinding; info: BackendInfo }> {
  const probed = requested === 'cpu' ? undefined : await (options.probe ?? (() => probeCuda({ signal: options.signal })))();
  const cudaCould = probed?.ok === true && probed.deviceCount > 0;
  const search = cudaCould ? await (options.cublas ?? (() => findCublasLt()))() : undefined;
  const choice = chooseBackend(requested, () => probed!, () => search);
  if (choice.kind === 'cuda') {
    if (search?.found && !process.env.OVIS_CUBLASLT_PATH) process.env.OVIS_CUBLASLT_PATH = search.found.file;
    const cuda = cudaBindingFrom(probed!);
    return { binding: cuda.binding, info: { requested, backend: 'cuda', device: choice.device, addonPath: cuda.file, addonSource: 'cuda', reason: choice.reason } };
  }
  return cpuBackend(requested, choice.reason);
}

/** The CPU addon with a reason (also the fallback when 'auto' picked CUDA and the CUDA engine could not start). */
export function cpuBackend(requested: string, reason: string): { binding: NativeBinding; info: BackendInfo } {
  const cpu = loadCpuBinding();
  return { binding: cpu.binding, info: { requested, backend: 'cpu', device: 'cpu', addonPath: cpu.file, addonSource: cpu.source, reason } };
}

/** One line for people: "cpu (prebuilt addon .../ovis-image.node): device 'auto': CPU, because ...". */
export function formatBackendInfo(info: BackendInfo): string {
  const source = info.addonSource === 'cuda' ? 'CUDA addon ' : info.addonSource === 'custom' ? 'custom engine' : `${info.addonSource} CPU addon `;
  return `${info.device} (${source}${info.addonPath}); ${info.reason}`;
}
