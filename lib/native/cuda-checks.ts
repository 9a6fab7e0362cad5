/**
 * What the CUDA addon's cudaInfo() says about this machine, turned into the refusals of issue 14:
 * driver too old for CUDA 13, no GPU, a GPU arch the binary has no code for. Pure (tested with fake infos).
 */

/** cudaInfo() of the CUDA addon (cuda/cuda_info.h). */
export interface CudaInfo {
  /** CUDA version the driver supports, 13000 = 13.0; 0 without a driver. */
  driverVersion: number;
  runtimeVersion: number;
  /** The archs compiled in, e.g. "80-real,86-real,89-real,90a-real,100-real,120". */
  archs: string;
  /** cudaGetDeviceCount's error name, '' when it worked. */
  error: string;
  devices: GpuInfo[];
}

export interface GpuInfo {
  name: string;
  major: number;
  minor: number;
  totalMemory: number;
}

/** The driver branch that first supports CUDA 13. */
export const DRIVER_NEEDED = 'R580';

export function cudaVersionText(v: number): string {
  return `${Math.floor(v / 1000)}.${Math.floor((v % 1000) / 10)}`;
}

/** Why the driver cannot run this build, or undefined when it can (or when there are no GPUs to say). */
export function driverProblem(info: CudaInfo): string | undefined {
  const needed = Math.floor(info.runtimeVersion / 1000) * 1000 || 13000;
  const update = `install NVIDIA driver ${DRIVER_NEEDED} or newer (https://www.nvidia.com/drivers)`;
  // Without libcuda at all, the runtime reports cudaErrorInsufficientDriver and driver version 0.
  if (info.driverVersion === 0 && info.error !== '' && info.error !== 'cudaErrorNoDevice') {
    return `no NVIDIA driver was found (${info.error}): on a machine with an NVIDIA GPU, ${update}; here, use device 'cpu'`;
  }
  if (info.error === 'cudaErrorInsufficientDriver' || (info.driverVersion > 0 && info.driverVersion < needed)) {
    return `the NVIDIA driver supports CUDA ${cudaVersionText(info.driverVersion)} only, and this build needs CUDA ${cudaVersionText(needed)}: ${update}`;
  }
  return undefined;
}

interface ArchCode {
  sm: number;
  suffix: '' | 'a' | 'f';
  sass: boolean;
  ptx: boolean;
}

/** "80-real,90a-real,120" (or ';'-separated) -> codes; "120" alone means SASS and PTX. */
export function parseArchs(archs: string): ArchCode[] {
  const out: ArchCode[] = [];
  for (const item of archs.split(/[,;\s]+/).filter(Boolean)) {
    const m = /^(\d+)([af]?)(?:-(real|virtual))?$/.exec(item);
    if (!m) continue;
    out.push({ sm: Number(m[1]), suffix: m[2] as ArchCode['suffix'], sass: m[3] !== 'virtual', ptx: m[3] !== 'real' });
  }
  return out;
}

/**
 * Whether a build with these archs has code a GPU of compute capability major.minor can run: SASS of
 * the same major at or below it ('a' variants only on that exact GPU), or PTX at or below it (JIT).
 * An unknown list (older addon) counts as yes.
 */
export function archRuns(archs: string, major: number, minor: number): boolean {
  const codes = parseArchs(archs);
  if (codes.length === 0) return true;
  const cc = major * 10 + minor;
  return codes.some((c) => {
    if (c.suffix === 'a') return c.sm === cc;
    const sassOk = c.sass && Math.floor(c.sm / 10) === major && c.sm <= cc;
    const ptxOk = c.ptx && c.suffix === '' && c.sm <= cc;
    return sassOk || ptxOk;
  });
}

/** "sm_80, sm_86, ..., sm_120 + PTX 120" for messages. */
export function archsText(archs: string): string {
  const codes = parseArchs(archs);
  const sass = codes.filter((c) => c.sass).map((c) => `sm_${c.sm}${c.suffix}`);
  const ptx = codes.filter((c) => c.ptx).map((c) => `${c.sm}${c.suffix}`);
  return `${sass.join(', ')}${ptx.length ? ` + PTX ${ptx.join(', ')}` : ''}`;
}

/** Why GPU `index` cannot run this build, or undefined. */
export function gpuProblem(info: CudaInfo, index: number): string | undefined {
  const d = info.devices[index];
  if (!d) return undefined;
  if (d.major < 8) {
    return `GPU ${index} (${d.name}) has compute capability ${d.major}.${d.minor}; the CUDA backend needs 8.0 or newer (bf16 tensor cores): use device 'cpu'`;
  }
  if (!archRuns(info.archs, d.major, d.minor)) {
    return (
      `GPU ${index} (${d.name}, compute capability ${d.major}.${d.minor}) is an architecture this CUDA binary has no code for ` +
      `(built for ${archsText(info.archs)}): update ovis-image, or build the addon for it with ` +
      `\`OVIS_CUDA_ARCHS=${d.major}${d.minor} npm run prebuilds:cuda\` in a clone and point OVIS_IMAGE_CUDA_ADDON at it`
    );
  }
  return undefined;
}
