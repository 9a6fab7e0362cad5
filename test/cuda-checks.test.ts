/**
 * The refusals of issue 14 from what cudaInfo() reports (lib/native/cuda-checks.ts): the driver too old
 * for CUDA 13 (R580+), a GPU arch the binary has no code for, and which archs the release list covers.
 */
import { describe, expect, it } from 'vitest';
import { archRuns, archsText, driverProblem, gpuProblem, type CudaInfo } from '../lib/native/cuda-checks.js';

const RELEASE = '80-real,86-real,89-real,90a-real,100-real,120';
const info = (over: Partial<CudaInfo> = {}): CudaInfo => ({ driverVersion: 13000, runtimeVersion: 13000, archs: RELEASE, error: '', devices: [], ...over });
const gpu = (name: string, major: number, minor: number) => ({ name, major, minor, totalMemory: 80e9 });

describe('archRuns (release list: SASS 80, 86, 89, 90a, 100, 120 + PTX 120)', () => {
  it.each([
    [8, 0, true], // A100
    [8, 6, true], // RTX 3090
    [8, 7, true], // Orin: sm_86 SASS runs on 8.7
    [8, 9, true], // L40S, RTX 4090
    [9, 0, true], // H100/H200 (90a exactly)
    [10, 0, true], // B200
    [10, 3, true], // B300: sm_100 SASS
    [12, 0, true], // RTX 5090
    [12, 1, true], // DGX Spark
    [13, 0, true], // a future GPU: PTX 120 is JIT-compiled
    [11, 0, false], // Thor: no 11.x SASS, and PTX 120 is newer than 11.0
    [7, 5, false], // Turing
  ])('compute capability %i.%i -> %s', (major, minor, runs) => {
    expect(archRuns(RELEASE, major, minor)).toBe(runs);
  });

  it("'a' variants run only on their exact GPU; an unknown list counts as yes", () => {
    expect(archRuns('90a-real', 9, 0)).toBe(true);
    expect(archRuns('90a-real', 10, 0)).toBe(false);
    expect(archRuns('', 7, 0)).toBe(true);
  });

  it('names the archs for messages', () => {
    expect(archsText(RELEASE)).toBe('sm_80, sm_86, sm_89, sm_90a, sm_100, sm_120 + PTX 120');
  });
});

describe('driverProblem', () => {
  it('names R580 when the driver is older than CUDA 13', () => {
    expect(driverProblem(info({ driverVersion: 12040, error: 'cudaErrorInsufficientDriver' }))).toMatch(
      /supports CUDA 12\.4 only, and this build needs CUDA 13\.0: install NVIDIA driver R580 or newer/,
    );
  });

  it('says when there is no driver at all, and nothing when the driver is new enough', () => {
    expect(driverProblem(info({ driverVersion: 0, error: 'cudaErrorNoDevice' }))).toBeUndefined();
    expect(driverProblem(info({ driverVersion: 0, error: 'cudaErrorInitializationError' }))).toMatch(/no NVIDIA driver was found .*R580/);
    // No libcuda at all: the static runtime says "insufficient driver" with version 0.
    expect(driverProblem(info({ driverVersion: 0, error: 'cudaErrorInsufficientDriver' }))).toMatch(/^no NVIDIA driver was found \(cudaErrorInsufficientDriver\)/);
    expect(driverProblem(info({ driverVersion: 13010 }))).toBeUndefined();
  });
});

describe('gpuProblem', () => {
  it('refuses a GPU the binary has no code for, naming how to build for it', () => {
    const why = gpuProblem(info({ devices: [gpu('NVIDIA Jetson Thor', 11, 0)] }), 0);
    expect(why).toMatch(/GPU 0 \(NVIDIA Jetson Thor, compute capability 11\.0\) is an architecture this CUDA binary has no code for \(built for sm_80.*\)/);
    expect(why).toContain('OVIS_CUDA_ARCHS=110 npm run prebuilds:cuda');
  });

  it('refuses pre-Ampere GPUs (no bf16 tensor cores) and accepts the rest', () => {
    expect(gpuProblem(info({ devices: [gpu('Tesla T4', 7, 5)] }), 0)).toMatch(/needs 8\.0 or newer/);
    expect(gpuProblem(info({ devices: [gpu('NVIDIA H200', 9, 0)] }), 0)).toBeUndefined();
  });
});
