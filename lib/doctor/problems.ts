/** The problems a doctor report shows, each with what to do about it. */
import { cublasMissingReason, CUBLAS_FIX } from '../cuda-libs/index.js';
import type { DoctorReport } from './collect.js';

export interface Problem {
  what: string;
  fix: string;
}

/** The 7B model in bf16 (transformer, text encoder, VAE) takes about 20 GiB in the HF cache. */
const MODEL_BYTES = 25 * 2 ** 30;

function cudaProblems(r: DoctorReport): Problem[] {
  const p = r.cudaAddon.probe;
  if (!p.ok) {
    if (p.addonPath === undefined) return [{ what: 'no CUDA addon is installed, so CUDA cannot run', fix: 'reinstall ovis-image from npm (it ships the CUDA addon for Linux x64), or build it in a clone with `npm run build:cuda`' }];
    return [{ what: `CUDA cannot run here: ${p.reason}`, fix: p.info ? 'install NVIDIA driver R580 or newer' : 'reinstall ovis-image, or set OVIS_IMAGE_CUDA_ADDON to a CUDA addon that loads; the CPU backend still works' }];
  }
  if (p.deviceCount === 0) {
    return [{ what: 'CUDA cannot run here: the CUDA addon loads but sees no NVIDIA GPU', fix: "on a machine with an NVIDIA GPU (Ampere or newer) and driver R580+, check nvidia-smi and CUDA_VISIBLE_DEVICES; here, device 'cpu' (or 'auto') runs on the CPU" }];
  }
  const out: Problem[] = r.gpus.flatMap((g) => (g.problem ? [{ what: g.problem, fix: 'use another GPU (device cuda:N) or the CPU' }] : []));
  if (!r.cublas.found) out.push({ what: `CUDA cannot run: ${cublasMissingReason(r.cublas)}`, fix: CUBLAS_FIX });
  return out;
}

export function findProblems(r: DoctorReport): Problem[] {
  const out: Problem[] = [];
  const f = r.system.cpu.features;
  if (f && (!f.avx2 || !f.fma)) {
    out.push({ what: 'this CPU lacks AVX2/FMA: the CPU backend runs its slow generic code', fix: 'use the CUDA backend, or a CPU with AVX2 and FMA (x86-64-v3)' });
  }
  if (!r.cpuAddon.loads) {
    out.push({ what: `the CPU addon does not load: ${r.cpuAddon.error ?? 'unknown error'}`, fix: 'run `npm rebuild ovis-image --build-from-source` (needs Python 3, make and a C++17 compiler)' });
  }
  out.push(...cudaProblems(r));
  const free = r.hfCache.freeBytes;
  if (free !== undefined && free < MODEL_BYTES) {
    out.push({ what: `only ${(free / 2 ** 30).toFixed(1)} GiB free in the Hugging Face cache ${r.hfCache.dir}; the 7B model needs about 20 GiB`, fix: 'free some space, or set HF_HUB_CACHE (or HF_HOME) to a bigger disk' });
  }
  return out;
}
