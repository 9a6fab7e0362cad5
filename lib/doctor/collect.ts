/**
 * Everything `ovis-image doctor` reports, gathered without side effects on the app: the CPU addon is
 * loaded in this process (it is always safe), the CUDA addon only in the probe's child process.
 */
import { existsSync } from 'node:fs';
import { findCublasLt, type CublasSearch } from '../cuda-libs/index.js';
import { defaultHubCacheDir } from '../hub/index.js';
import { freeBytes } from '../hub/disk-space.js';
import { cudaVersionText, gpuProblem, type CudaInfo } from '../native/cuda-checks.js';
import { cudaAddonCandidates, loadCpuBinding, probeCuda, selectBackend, type CudaProbeResult } from '../native/index.js';
import { kernelDriverVersion, nvidiaSmiGpus } from './nvidia.js';
import { findProblems, type Problem } from './problems.js';
import { systemFacts, type SystemFacts } from './system.js';

export interface GpuLine {
  index: number;
  name: string;
  computeCapability: string;
  memoryGiB: number;
  /** Why this build cannot run on it (undefined: it can, or unknown when only nvidia-smi saw it). */
  problem: string | undefined;
  seenBy: 'cuda' | 'nvidia-smi';
}

export interface DoctorReport {
  system: SystemFacts;
  cpuAddon: { file: string | undefined; source: string | undefined; loads: boolean; error: string | undefined };
  cudaAddon: { looked: { file: string; exists: boolean }[]; probe: CudaProbeResult };
  driver: { kernelModule: string | undefined; cudaVersion: string | undefined; runtime: string | undefined; archs: string | undefined };
  gpus: GpuLine[];
  cublas: CublasSearch;
  auto: { backend: string; device: string; reason: string } | { error: string };
  hfCache: { dir: string; freeBytes: number | undefined };
  problems: Problem[];
}

function cpuAddon(): DoctorReport['cpuAddon'] {
  try {
    const cpu = loadCpuBinding();
    return { file: cpu.file, source: cpu.source, loads: true, error: undefined };
  } catch (err) {
    return { file: undefined, source: undefined, loads: false, error: (err as Error).message };
  }
}

async function gpuLines(info: CudaInfo | undefined): Promise<GpuLine[]> {
  if (info && info.devices.length > 0) {
    return info.devices.map((d, index) => ({
      index,
      name: d.name,
      computeCapability: `${d.major}.${d.minor}`,
      memoryGiB: d.totalMemory / 2 ** 30,
      problem: gpuProblem(info, index),
      seenBy: 'cuda' as const,
    }));
  }
  const smi = (await nvidiaSmiGpus()) ?? [];
  return smi.map((g, index) => ({ index, name: g.name, computeCapability: g.computeCapability, memoryGiB: g.memoryMiB / 1024, problem: undefined, seenBy: 'nvidia-smi' as const }));
}

async function autoChoice(): Promise<DoctorReport['auto']> {
  try {
    const { info } = await selectBackend('auto');
    return { backend: info.backend, device: info.device, reason: info.reason };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

export async function collectReport(): Promise<DoctorReport> {
  const candidates = cudaAddonCandidates();
  const [system, probe, cublas, kernelModule] = await Promise.all([systemFacts(), probeCuda({ candidates }), findCublasLt(), kernelDriverVersion()]);
  const info = probe.info;
  const hfDir = defaultHubCacheDir();
  const report: DoctorReport = {
    system,
    cpuAddon: cpuAddon(),
    cudaAddon: { looked: candidates.map((file) => ({ file, exists: existsSync(file) })), probe },
    driver: {
      kernelModule,
      cudaVersion: info && info.driverVersion > 0 ? cudaVersionText(info.driverVersion) : undefined,
      runtime: info ? cudaVersionText(info.runtimeVersion) : undefined,
      archs: info?.archs || undefined,
    },
    gpus: await gpuLines(info),
    cublas,
    auto: await autoChoice(),
    hfCache: { dir: hfDir, freeBytes: await freeBytes(hfDir) },
    problems: [],
  };
  report.problems = findProblems(report);
  return report;
}
