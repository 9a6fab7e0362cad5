/**
 * OvisImage.load's choice of backend end to end, with a stand-in "CUDA addon" (a .cjs file named by
 * OVIS_IMAGE_CUDA_ADDON) that passes the child-process probe but whose engine cannot start, as when
 * cuBLASLt is missing on a GPU machine.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, expect, it, vi } from 'vitest';
import { OvisImage } from '../lib/ovis-image.js';
import { removeTempDirs, tempDir, TINY_DIFFUSERS } from './model-helpers.js';

afterEach(() => vi.unstubAllEnvs());
afterAll(removeTempDirs);

function fakeCudaAddon(): string {
  const file = path.join(tempDir('fake-cuda'), 'ovis_image.cjs');
  writeFileSync(
    file,
    `class Engine {
  constructor() {
    throw Object.assign(new Error('cuBLASLt was not found (libcublasLt.so.13; searched LD_LIBRARY_PATH, /usr/local/cuda)'), { code: 'OVIS_UNAVAILABLE' });
  }
}
module.exports = { Engine, backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => 1, version: '0.1.0' };
`,
  );
  return file;
}

/** A stand-in libcublasLt.so.13, so the cuBLASLt search passes whether or not this machine has one. */
function fakeCublasLt(): string {
  const file = path.join(tempDir('fake-cublas'), 'libcublasLt.so.13');
  writeFileSync(file, '');
  return file;
}

it("'auto' falls back to the CPU, saying why, when the CUDA engine cannot start; 'cuda' rejects", async () => {
  vi.stubEnv('OVIS_IMAGE_CUDA_ADDON', fakeCudaAddon());
  vi.stubEnv('OVIS_CUBLASLT_PATH', fakeCublasLt());
  const phases: string[] = [];
  const model = await OvisImage.load(TINY_DIFFUSERS, { device: 'auto', onProgress: (p) => phases.push(`${p.phase}: ${p.message}`) });
  try {
    expect(model.backend).toMatch(/^cpu/);
    expect(model.backendInfo.backend).toBe('cpu');
    expect(model.backendInfo.reason).toMatch(/CUDA engine could not start: cuBLASLt was not found/);
    // first the CUDA choice, then the fallback
    expect(phases.filter((p) => p.startsWith('backend:'))).toEqual([
      expect.stringMatching(/^backend: cuda \(CUDA addon .*ovis_image\.cjs\); device 'auto': CUDA, .* sees 1 GPU$/),
      expect.stringMatching(/^backend: cpu \(/),
    ]);
    expect((await model.generate({ prompt: 'hi', width: 32, height: 32, steps: 1, seed: 1 })).image.width).toBe(32);
  } finally {
    await model.dispose();
  }
  await expect(OvisImage.load(TINY_DIFFUSERS, { device: 'cuda' })).rejects.toMatchObject({
    code: 'OVIS_UNAVAILABLE',
    message: expect.stringContaining('cuBLASLt was not found'),
  });
});

it("'auto' stays on the CPU when the CUDA addon sees no GPU", async () => {
  const file = path.join(tempDir('fake-cuda'), 'ovis_image.cjs');
  writeFileSync(file, "module.exports = { Engine: class {}, backends: () => ['cpu', 'cuda'], cudaDeviceCount: () => 0, version: '0.1.0' };\n");
  vi.stubEnv('OVIS_IMAGE_CUDA_ADDON', file);
  const model = await OvisImage.load(TINY_DIFFUSERS, { device: 'auto' });
  await model.dispose();
  expect(model.backendInfo).toMatchObject({ backend: 'cpu', reason: expect.stringMatching(/sees no GPU/) });
  await expect(OvisImage.load(TINY_DIFFUSERS, { device: 'cuda:0' })).rejects.toMatchObject({ code: 'OVIS_UNAVAILABLE', message: expect.stringMatching(/sees no GPU/) });
});
