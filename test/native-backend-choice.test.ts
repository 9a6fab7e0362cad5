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
  it("falls back to the CPU addon under 'auto' with the probe's reason", () => {
    const { binding, info } = selectBackend('auto', () => broken);
    expect(binding.backends()).toContain('cpu');
    expect(info).toMatchObject({ requested: 'auto', backend: 'cpu', device: 'cpu' });
    expect(['prebuilt', 'built from source']).toContain(info.addonSource);
    expect(existsSync(info.addonPath)).toBe(true);
    expect(info.reason).toContain('libfoo.so');
    expect(formatBackendInfo(info)).toMatch(/^cpu \((prebuilt|built from source) CPU addon \//);
  });

  it("throws OVIS_UNAVAILABLE for 'cuda' when the probe fails", () => {
    unavailable(() => selectBackend('cuda', () => none));
  });

  it('on this machine: CPU unless a CUDA addon loads and sees a GPU', () => {
    const probe = probeCuda();
    const { info } = selectBackend('auto');
    if (probe.ok && probe.deviceCount > 0) {
      expect(info.backend).toBe('cuda');
    } else {
      expect(info.backend).toBe('cpu');
      expect(info.reason).toMatch(/^device 'auto': CPU, because /);
      expect(info.addonPath).toBe(loadCpuBinding().file);
      unavailable(() => selectBackend('cuda'));
    }
    // An addon file is probed once per process; "no file" is re-checked (cheap: a few stat calls).
    if (probe.addonPath !== undefined) expect(probeCuda()).toBe(probe);
    else expect(probeCuda()).toEqual(probe);
  });
});

describe('the CUDA probe runs in a child process', () => {
  function fakeAddon(name: string, body: string): string {
    const file = path.join(tempDir('probe'), name);
    writeFileSync(file, body);
    return file;
  }

  it('reports the GPU count of an addon built with CUDA', () => {
    const file = fakeAddon('ok.cjs', "module.exports = { backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => 3 };");
    expect(probeAddonFile(file)).toEqual({ ok: true, addonPath: file, deviceCount: 3 });
  });

  it('refuses an addon built without CUDA (the CPU addon itself)', () => {
    const r = probeAddonFile(loadCpuBinding().file);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/built without CUDA \(backends: cpu\)/);
  });

  it('survives an addon that crashes its process while loading', () => {
    const file = fakeAddon('crash.cjs', "process.kill(process.pid, 'SIGSEGV');");
    const r = probeAddonFile(file);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/crashed the probe process \(SIGSEGV\)/);
  });

  it('passes on the load error of a broken file', () => {
    const r = probeAddonFile(fakeAddon('ovis_image.node', 'not an ELF file'));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toMatch(/cannot be used: .*(invalid ELF header|file too short)/);
  });

  it('says where it looked and how to build one when there is no CUDA addon', () => {
    const r = probeCuda(['/nonexistent/a.node', '/nonexistent/b.node']);
    expect(r).toMatchObject({ ok: false, addonPath: undefined });
    expect(!r.ok && r.reason).toMatch(/looked for \/nonexistent\/a\.node, \/nonexistent\/b\.node.*npm run prebuilds:cuda/);
  });

  it('looks at $OVIS_IMAGE_CUDA_ADDON first, then prebuilds-cuda/', () => {
    const c = cudaAddonCandidates({ OVIS_IMAGE_CUDA_ADDON: '/opt/x/ovis_image.node' }, '/pkg');
    expect(c[0]).toBe('/opt/x/ovis_image.node');
    expect(c[1]).toBe(`/pkg/prebuilds-cuda/${process.platform}-${process.arch}/ovis_image.node`);
  });
});
