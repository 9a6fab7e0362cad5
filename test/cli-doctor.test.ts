/**
 * `ovis-image doctor [--json]` through the real CLI: what it reports on this machine (exit 0), and the
 * problem lines with their fixes when the CUDA addon (a fake one, via OVIS_IMAGE_CUDA_ADDON) reports no
 * GPU, a driver too old for CUDA 13, or a GPU arch the binary lacks, and when cuBLASLt 13 is missing.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, hasStackTrace } from './cli-helpers.js';
import { removeTempDirs, tempDir } from './model-helpers.js';

beforeAll(assertBuilt);
afterAll(removeTempDirs);

const RELEASE = '80-real,86-real,89-real,90a-real,100-real,120';

function fakeCudaAddon(info: object, count: number): string {
  const file = path.join(tempDir('doctor-addon'), 'ovis_image.cjs');
  writeFileSync(file, `module.exports = { backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => ${count}, cudaInfo: () => (${JSON.stringify(info)}) };`);
  return file;
}

/** An environment without any cuBLAS of this machine: a fresh HOME and cache, no CUDA paths. */
function bareEnv(extra: Record<string, string> = {}): Record<string, string> {
  const home = tempDir('doctor-home');
  return { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache'), OVIS_CUBLASLT_PATH: '', LD_LIBRARY_PATH: '', CUDA_HOME: '', CUDA_PATH: '', VIRTUAL_ENV: '', CONDA_PREFIX: '', ...extra };
}

describe('ovis-image doctor', () => {
  it('reports Node, the CPU, both addons, the driver, cuBLASLt, the auto choice and the HF cache; exit 0', () => {
    const r = cli(['doctor']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(new RegExp(`^node +${process.version.replace(/\./g, '\\.')}, N-API \\d+, ${process.platform}-${process.arch}`, 'm'));
    expect(out).toMatch(/^cpu +.*avx2 (yes|no), fma (yes|no)/m);
    expect(out).toMatch(/^cpu addon +\/.*ovis[-_]image\.node \((prebuilt|built from source)\): loads$/m);
    expect(out).toMatch(/^cuda addon +/m);
    expect(out).toMatch(/^nvidia driver +/m);
    expect(out).toMatch(/^gpus +/m);
    expect(out).toMatch(/^cublasLt +/m);
    expect(out).toMatch(/^device auto +(cpu|cuda): device 'auto': /m);
    expect(out).toMatch(/^hf cache +\/.*, [\d.]+ GiB free$/m);
    expect(out).toMatch(/^problems: none$|^problems \(\d+\):$/m);
    for (const fix of out.match(/^ {2}- .*\n.*/gm) ?? []) expect(fix).toMatch(/\n {4}fix: \S/);
  });

  it('--json has the same facts as data', () => {
    const r = cli(['doctor', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { [section: string]: { [field: string]: unknown } } & { cudaAddon: { looked: unknown }; hfCache: { dir: unknown } };
    expect(j.system).toMatchObject({ node: process.version, napi: process.versions.napi, platform: `${process.platform}-${process.arch}` });
    expect(j.cpuAddon).toMatchObject({ loads: true });
    expect(Array.isArray(j.cudaAddon.looked)).toBe(true);
    expect(j.cublas).toHaveProperty('looked');
    expect(j.auto).toHaveProperty('reason');
    expect(typeof j.hfCache.dir).toBe('string');
    expect(Array.isArray(j.problems)).toBe(true);
  });

  it('says why CUDA cannot run on a machine without a GPU, and what to do', () => {
    const addon = fakeCudaAddon({ driverVersion: 0, runtimeVersion: 13000, archs: RELEASE, error: 'cudaErrorNoDevice', devices: [] }, 0);
    const r = cli(['doctor'], { OVIS_IMAGE_CUDA_ADDON: addon });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`cuda addon    ${addon} (CUDA runtime 13.0, code for ${RELEASE}): loads, sees 0 GPUs`);
    expect(r.stdout).toMatch(/^ {2}- CUDA cannot run here: the CUDA addon loads but sees no NVIDIA GPU\n {4}fix: .*driver R580\+/m);
    expect(r.stdout).toMatch(/^device auto +cpu: device 'auto': CPU, because CUDA is not usable: /m);
  });

  it('names R580 for a driver older than CUDA 13', () => {
    const addon = fakeCudaAddon({ driverVersion: 12020, runtimeVersion: 13000, archs: RELEASE, error: 'cudaErrorInsufficientDriver', devices: [] }, 0);
    const r = cli(['doctor'], { OVIS_IMAGE_CUDA_ADDON: addon });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/supports CUDA 12\.2/);
    expect(r.stdout).toMatch(/^ {2}- CUDA cannot run here: the NVIDIA driver supports CUDA 12\.2 only, and this build needs CUDA 13\.0: install NVIDIA driver R580 or newer/m);
  });

  it('lists the GPUs, flags one the binary has no code for, and every place cuBLASLt was looked for', () => {
    const thor = { name: 'NVIDIA Thor', major: 11, minor: 0, totalMemory: 128 * 2 ** 30 };
    const addon = fakeCudaAddon({ driverVersion: 13000, runtimeVersion: 13000, archs: RELEASE, error: '', devices: [thor] }, 1);
    const r = cli(['doctor'], bareEnv({ OVIS_IMAGE_CUDA_ADDON: addon }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^gpus +0: NVIDIA Thor, compute capability 11\.0, 128\.0 GiB \(cannot run this build\)$/m);
    expect(r.stdout).toMatch(/^ {2}- GPU 0 \(NVIDIA Thor, compute capability 11\.0\) is an architecture this CUDA binary has no code for/m);
    expect(r.stdout).toMatch(/^cublasLt +not found; looked at:$/m);
    expect(r.stdout).toMatch(/^ +ovis-image cache: .*\/\.cache\/ovis-image\/cublas13\/libcublasLt\.so\.13$/m);
    expect(r.stdout).toMatch(/^ {2}- CUDA cannot run: libcublasLt\.so\.13 \(cuBLASLt of CUDA 13\) was not found .*\n {4}fix: run `ovis-image setup cuda`/m);
    expect(hasStackTrace(r.stdout + r.stderr)).toBe(false);
  });
});
