/**
 * How a load picks its addon and device: the rules with injected CUDA probe results (no GPU needed),
 * the child-process probe against fake addons (including one that crashes), and the real choice on
 * this machine.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { chooseBackend, type CudaProbeResult } from '../lib/native/backend-choice.js';
import { formatBackendInfo, loadCpuBinding, selectBackend } from '../lib/native/binding.js';
import { probeAddonFile, probeCuda } from '../lib/native/cuda-probe.js';
import { cudaAddonCandidates } from '../lib/native/addon-files.js';
import { removeTempDirs, tempDir } from './model-helpers.js';

afterAll(removeTempDirs);

const gpus = (n: number): CudaProbeResult => ({ ok: true, addonPath: '/x/ovis_image.node', deviceCount: n });
const broken: CudaProbeResult = { ok: false, addonPath: '/x/ovis_image.node', reason: 'the CUDA addon /x/ovis_image.node failed to load: libfoo.so: cannot open' };
const none: CudaProbeResult = { ok: false, addonPath: undefined, reason: 'no CUDA build of the addon is installed' };

async function unavailableAsync(f: () => Promise<unknown>): Promise<OvisError> {
  const e = await f().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(OvisError);
  expect((e as OvisError).code).toBe('OVIS_UNAVAILABLE');
  return e as OvisError;
}

function unavailable(f: () => unknown): OvisError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(OvisError);
    expect((e as OvisError).code).toBe('OVIS_UNAVAILABLE');
    return e as OvisError;
  }
  throw new Error('expected OVIS_UNAVAILABLE');
}

describe('chooseBackend (injected probe results)', () => {
  it("'cpu' never probes", () => {
    const c = chooseBackend('cpu', () => {
      throw new Error('probed');
    });
    expect(c).toMatchObject({ kind: 'cpu', device: 'cpu' });
  });

  it("'auto' takes CUDA only when the addon loads and sees a GPU, and says why", () => {
    expect(chooseBackend('auto', () => gpus(2))).toMatchObject({ kind: 'cuda', device: 'cuda', reason: expect.stringMatching(/sees 2 GPUs/) });
    const noGpu = chooseBackend('auto', () => gpus(0));
    expect(noGpu).toMatchObject({ kind: 'cpu', device: 'cpu' });
    expect(noGpu.reason).toMatch(/CPU, because .* sees no GPU/);
    const bad = chooseBackend('auto', () => broken);
    expect(bad.kind).toBe('cpu');
    expect(bad.reason).toContain('libfoo.so: cannot open');
    expect(chooseBackend('auto', () => none).reason).toContain('no CUDA build');
  });

  it("explicit 'cuda' without a usable CUDA is OVIS_UNAVAILABLE with the reason", () => {
    expect(unavailable(() => chooseBackend('cuda', () => none)).message).toContain('no CUDA build');
    expect(unavailable(() => chooseBackend('cuda', () => broken)).message).toContain('libfoo.so: cannot open');
    expect(unavailable(() => chooseBackend('cuda', () => gpus(0))).message).toMatch(/sees no GPU/);
    expect(unavailable(() => chooseBackend('cuda:1', () => gpus(1))).message).toMatch(/no GPU 1: 1 GPU visible/);
  });

  it("'cuda' and 'cuda:N' with enough GPUs keep the device string", () => {
    expect(chooseBackend('cuda', () => gpus(1))).toMatchObject({ kind: 'cuda', device: 'cuda' });
    expect(chooseBackend('cuda:1', () => gpus(2))).toMatchObject({ kind: 'cuda', device: 'cuda:1' });
  });

  it('rejects other device strings', () => {
    expect(() => chooseBackend('gpu', () => gpus(1))).toThrow(/'auto', 'cpu', 'cuda' or 'cuda:N'/);
  });
});

describe('selectBackend', () => {
  const resolved = (r: CudaProbeResult) => () => Promise.resolve(r);

  it("falls back to the CPU addon under 'auto' with the probe's reason", async () => {
    const { binding, info } = await selectBackend('auto', { probe: resolved(broken) });
    expect(binding.backends()).toContain('cpu');
    expect(info).toMatchObject({ requested: 'auto', backend: 'cpu', device: 'cpu' });
    expect(['prebuilt', 'built from source']).toContain(info.addonSource);
    expect(existsSync(info.addonPath)).toBe(true);
    expect(info.reason).toContain('libfoo.so');
    expect(formatBackendInfo(info)).toMatch(/^cpu \((prebuilt|built from source) CPU addon \//);
  });

  it("throws OVIS_UNAVAILABLE for 'cuda' when the probe fails", async () => {
    await unavailableAsync(() => selectBackend('cuda', { probe: resolved(none) }));
  });

  it("'cpu' starts no probe", async () => {
    const { info } = await selectBackend('cpu', {
      probe: () => {
        throw new Error('probed');
      },
    });
    expect(info.backend).toBe('cpu');
  });

  it('on this machine: CPU unless a CUDA addon loads and sees a GPU', async () => {
    const probe = await probeCuda();
    const { info } = await selectBackend('auto');
    if (probe.ok && probe.deviceCount > 0) {
      expect(info.backend).toBe('cuda');
    } else {
      expect(info.backend).toBe('cpu');
      expect(info.reason).toMatch(/^device 'auto': CPU, because /);
      expect(info.addonPath).toBe(loadCpuBinding().file);
      await unavailableAsync(() => selectBackend('cuda'));
    }
    // An addon file is probed once per process; "no file" is re-checked (cheap: a few stat calls).
    if (probe.addonPath !== undefined) expect(await probeCuda()).toBe(probe);
    else expect(await probeCuda()).toEqual(probe);
  });
});

describe('the CUDA probe runs in a child process', () => {
  function fakeAddon(name: string, body: string): string {
    const file = path.join(tempDir('probe'), name);
    writeFileSync(file, body);
    return file;
  }

  it('reports the GPU count of an addon built with CUDA', async () => {
    const file = fakeAddon('ok.cjs', "module.exports = { backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => 3 };");
    expect(await probeAddonFile(file)).toEqual({ ok: true, addonPath: file, deviceCount: 3 });
  });

  it('refuses an addon built without CUDA (the CPU addon itself)', async () => {
    const r = await probeAddonFile(loadCpuBinding().file);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/built without CUDA \(backends: cpu\)/);
  });

  it('survives an addon that crashes its process while loading', async () => {
    const file = fakeAddon('crash.cjs', "process.kill(process.pid, 'SIGSEGV');");
    const r = await probeAddonFile(file);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/crashed the probe process \(SIGSEGV\)/);
  });

  it('passes on the load error of a broken file', async () => {
    const r = await probeAddonFile(fakeAddon('ovis_image.node', 'not an ELF file'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/cannot be used: .*(invalid ELF header|file too short)/);
  });

  it('says where it looked and how to build one when there is no CUDA addon', async () => {
    const r = await probeCuda({ candidates: ['/nonexistent/a.node', '/nonexistent/b.node'] });
    expect(r).toMatchObject({ ok: false, addonPath: undefined });
    expect(!r.ok && r.reason).toMatch(/looked for \/nonexistent\/a\.node, \/nonexistent\/b\.node.*npm run build:cuda/);
  });

  it('looks at $OVIS_IMAGE_CUDA_ADDON first, then build-cuda/ of a clone, then prebuilds-cuda/', () => {
    const c = cudaAddonCandidates({ OVIS_IMAGE_CUDA_ADDON: '/opt/x/ovis_image.node' }, '/pkg');
    expect(c[0]).toBe('/opt/x/ovis_image.node');
    expect(c[1]).toBe('/pkg/build-cuda/ovis_image.node');
    expect(c[2]).toBe(`/pkg/prebuilds-cuda/${process.platform}-${process.arch}/ovis_image.node`);
  });
});

describe('the CUDA probe is asynchronous (issue 11)', () => {
  function fakeAddon(name: string, body: string): string {
    const file = path.join(tempDir('probe-async'), name);
    writeFileSync(file, body);
    return file;
  }
  // An addon whose load blocks its process for `ms` (a driver that takes its time).
  const slow = (ms: number) => `Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ${ms}); module.exports = { backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => 1 };`;

  it('keeps the event loop running while the child loads the addon', async () => {
    const file = fakeAddon('slow.cjs', slow(600));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const r = await probeAddonFile(file);
    clearInterval(timer);
    expect(r).toMatchObject({ ok: true, deviceCount: 1 });
    expect(ticks).toBeGreaterThan(5);
  });

  it('stops at its timeout, saying so', async () => {
    const r = await probeAddonFile(fakeAddon('hang.cjs', slow(20_000)), { timeoutMs: 300 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/did not finish loading within 0\.3 s/);
  });

  it('rejects with AbortError when its signal aborts, and the next probe of the file runs again', async () => {
    const file = fakeAddon('slow-abort.cjs', slow(20_000));
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    await expect(probeCuda({ candidates: [file], signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect(probeCuda({ candidates: [file], signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });
});

describe('refusals at backend creation (issue 14)', () => {
  function cudaAddon(info: object, count = 1): string {
    const file = path.join(tempDir('probe-info'), 'ovis_image.cjs');
    writeFileSync(file, `module.exports = { backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => ${count}, cudaInfo: () => (${JSON.stringify(info)}) };`);
    return file;
  }
  const base = { driverVersion: 13000, runtimeVersion: 13000, archs: '80-real,86-real,89-real,90a-real,100-real,120', error: '' };
  const h200 = { name: 'NVIDIA H200', major: 9, minor: 0, totalMemory: 150e9 };
  const found = { found: { file: '/x/libcublasLt.so.13', version: '13.1.1.3', place: 'CUDA toolkit' as const }, looked: [], cuda12: [] };
  const only12 = { found: undefined, looked: [{ place: 'CUDA toolkit' as const, file: '/usr/local/cuda/lib64/libcublasLt.so.13', found: false }], cuda12: ['/usr/local/cuda/lib64/libcublasLt.so.12'] };

  it('a driver too old for CUDA 13 names R580', async () => {
    const r = await probeAddonFile(cudaAddon({ ...base, driverVersion: 12080, error: 'cudaErrorInsufficientDriver', devices: [] }, 0));
    expect(r.ok).toBe(false);
    const e = await unavailableAsync(() => selectBackend('cuda', { probe: async () => r }));
    expect(e.message).toMatch(/supports CUDA 12\.8 only.*driver R580 or newer/);
  });

  it('a GPU arch the binary lacks: OVIS_UNAVAILABLE for cuda, the CPU for auto', async () => {
    const r = await probeAddonFile(cudaAddon({ ...base, devices: [{ ...h200, name: 'NVIDIA Jetson Thor', major: 11, minor: 0 }] }));
    expect(r).toMatchObject({ ok: true, deviceCount: 1 });
    const e = await unavailableAsync(() => selectBackend('cuda', { probe: async () => r, cublas: async () => found }));
    expect(e.message).toMatch(/compute capability 11\.0\) is an architecture this CUDA binary has no code for/);
    const auto = await selectBackend('auto', { probe: async () => r, cublas: async () => found });
    expect(auto.info.backend).toBe('cpu');
    expect(auto.info.reason).toMatch(/CPU, because CUDA is not usable: GPU 0 .*no code for/);
  });

  it("cuBLAS 12 found but not 13", async () => {
    const r = await probeAddonFile(cudaAddon({ ...base, devices: [h200] }));
    const e = await unavailableAsync(() => selectBackend('cuda:0', { probe: async () => r, cublas: async () => only12 }));
    expect(e.message).toContain("only CUDA 12's cuBLAS was found (/usr/local/cuda/lib64/libcublasLt.so.12), but this build needs CUDA 13's libcublasLt.so.13");
    expect(e.message).toContain('ovis-image setup cuda');
  });

  it('no GPU', async () => {
    const r = await probeAddonFile(cudaAddon({ ...base, error: 'cudaErrorNoDevice', devices: [] }, 0));
    const e = await unavailableAsync(() => selectBackend('cuda', { probe: async () => r }));
    expect(e.message).toMatch(/loads but sees no GPU \(check the NVIDIA driver, nvidia-smi and CUDA_VISIBLE_DEVICES\)/);
  });
});
