/**
 * Loads the native addon (cpp/addon) and decides which variant a load uses:
 * - the CPU addon: prebuilds/<platform>-<arch>/ (shipped, N-API) or build/Release (node-gyp on this machine);
 * - the CUDA addon (optional, built with cmake-js): only after a child process has loaded it and counted
 *   the GPUs (cuda-probe.ts), so a broken driver cannot crash the app.
 * What was chosen and why is kept as a BackendInfo (OvisImage#backendInfo, `--verbose`, `info`).
 */
import { createRequire } from 'node:module';
import type { NativeBinding } from '../../types/native.js';
import { OvisError } from '../errors.js';
import type { BackendInfo } from './backend-info.js';
import { cpuAddonPath, type CpuAddonSource } from './addon-files.js';
import { chooseBackend, type BindingKind, type CudaProbeResult } from './backend-choice.js';
import { probeCuda } from './cuda-probe.js';

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

/** The CUDA addon, after a successful probe. Throws OvisError('OVIS_UNAVAILABLE') with the probe's reason. */
export function loadCudaBinding(probe: () => CudaProbeResult = () => probeCuda()): { binding: NativeBinding; file: string; deviceCount: number } {
  const p = probe();
  if (!p.ok) throw new OvisError('OVIS_UNAVAILABLE', `the CUDA native addon of ovis-image is not usable: ${p.reason}`);
  const binding = requireAddon(p.addonPath, 'CUDA');
  if (!binding.backends().includes('cuda')) throw new OvisError('OVIS_UNAVAILABLE', `the CUDA addon ${p.addonPath} was built without CUDA`);
  return { binding, file: p.addonPath, deviceCount: p.deviceCount };
}

/** Loads (once) and returns the addon of that kind; see loadCpuBinding / loadCudaBinding for errors. */
export function loadBinding(kind: BindingKind = 'cpu'): NativeBinding {
  return kind === 'cpu' ? loadCpuBinding().binding : loadCudaBinding().binding;
}

/**
 * Picks the addon and device for a `device` option (backend-choice.ts) and loads that addon.
 * `probe` replaces the child-process CUDA probe (tests).
 */
export function selectBackend(requested: string, probe: () => CudaProbeResult = () => probeCuda()): { binding: NativeBinding; info: BackendInfo } {
  let probed: CudaProbeResult | undefined;
  const once = (): CudaProbeResult => (probed ??= probe());
  const choice = chooseBackend(requested, once);
  if (choice.kind === 'cuda') {
    const cuda = loadCudaBinding(once);
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
