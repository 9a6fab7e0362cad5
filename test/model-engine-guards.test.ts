// The real engine on damaged inputs: weight files changed after loading, NaN/Inf in weights or
// noise. Each ends in a typed error naming what happened; the process lives on.
import { readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisImage } from '../lib/index.js';
import { assertBuilt, cli } from './cli-helpers.js';
import { TINY_DIFFUSERS, linkTree, readRawTensors, tempDir, removeTempDirs, writeRawTensors } from './model-helpers.js';

const WEIGHTS: Record<string, string> = {
  transformer: 'transformer/diffusion_pytorch_model.safetensors',
  textEncoder: 'text_encoder/model.safetensors',
  vae: 'vae/diffusion_pytorch_model.safetensors',
};
const small = { prompt: 'a red cube', width: 32, height: 32, steps: 2, seed: 3 } as const;

/** tiny-diffusers as links, with real copies of the weight files (so they can be damaged). */
function modelCopy(edit?: { file: string; tensor: string; value: number }): string {
  const root = path.join(tempDir('guards'), 'model');
  linkTree(TINY_DIFFUSERS, root);
  for (const rel of Object.values(WEIGHTS)) {
    const file = path.join(root, rel);
    rmSync(file);
    const tensors = readRawTensors(path.join(TINY_DIFFUSERS, rel));
    if (edit && edit.file === rel) {
      const t = tensors.find((x) => x.key === edit.tensor)!;
      expect(t.dtype).toBe('BF16');
      const bits = Buffer.alloc(4);
      bits.writeFloatLE(edit.value);
      const data = Buffer.from(t.data);
      data.writeUInt16LE(bits.readUInt32LE(0) >>> 16, 0); // the first element becomes NaN / Inf
      t.data = data;
    }
    writeRawTensors(file, tensors);
  }
  return root;
}

async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

beforeAll(assertBuilt);
afterAll(removeTempDirs);

describe('weight files changed after loading', () => {
  it('a truncated weight file: a typed error, not SIGBUS', async () => {
    const root = modelCopy();
    const model = await OvisImage.load(root, { device: 'cpu', threads: 1 });
    try {
      await model.generate(small);
      const file = path.join(root, WEIGHTS['transformer']!);
      truncateSync(file, 1000);
      const err = await rejection(model.generate(small));
      expect(err.code).toBe('OVIS_WEIGHTS_CHANGED');
      expect(err.message).toContain(file);
      expect(err.message).toContain('load the model again');
      expect((await rejection(model.generate(small))).code).toBe('OVIS_WEIGHTS_CHANGED'); // still usable, still refusing
    } finally {
      await model.dispose();
    }
  });

  it('a weight file rewritten in place with other values of the same size', async () => {
    const root = modelCopy();
    const model = await OvisImage.load(root, { device: 'cpu', threads: 1 });
    try {
      const file = path.join(root, WEIGHTS['vae']!);
      const bytes = readFileSync(file);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x01;
      await new Promise((r) => setTimeout(r, 20)); // a later mtime even on coarse clocks
      writeFileSync(file, bytes);
      const err = await rejection(model.generate(small));
      expect(err.code).toBe('OVIS_WEIGHTS_CHANGED');
      expect(err.message).toContain(file);
    } finally {
      await model.dispose();
    }
  });
});

describe('non-finite values', () => {
  it.each([
    ['transformer', 'proj_out.weight', /latents became NaN at step 1 of 2: the MMDiT output is not finite/],
    ['textEncoder', 'norm.weight', /the text encoder output for the prompt is not finite \(NaN\)/],
    ['vae', 'decoder.conv_out.bias', /the VAE decoder output is not finite \(Inf\)/],
  ])('%s weight %s', async (component, tensor, message) => {
    const value = component === 'vae' ? Number.POSITIVE_INFINITY : Number.NaN;
    const root = modelCopy({ file: WEIGHTS[component]!, tensor, value });
    const model = await OvisImage.load(root, { device: 'cpu', threads: 1 });
    try {
      const err = await rejection(model.generate(small));
      expect(err.code).toBe('OVIS_NON_FINITE');
      expect(err.message).toMatch(message);
    } finally {
      await model.dispose();
    }
  });

  it('noise of 3e38 ends in OVIS_NON_FINITE, then the model still works', async () => {
    const model = await OvisImage.load(TINY_DIFFUSERS, { device: 'cpu', threads: 1 });
    try {
      const noise = new Float32Array(16 * 4 * 4).fill(3e38);
      const err = await rejection(model.generate({ ...small, seed: undefined, noise }));
      expect(err.code).toBe('OVIS_NON_FINITE');
      expect(err.message).toMatch(/at step 1 of 2|not finite/);
      expect((await model.generate(small)).image.data.length).toBe(32 * 32 * 3);
    } finally {
      await model.dispose();
    }
  });

  it('info --check names the tensor holding NaN', () => {
    const root = modelCopy({ file: WEIGHTS['transformer']!, tensor: 'proj_out.weight', value: Number.NaN });
    const clean = cli(['info', '-m', TINY_DIFFUSERS, '--check']);
    expect(clean.code, clean.stderr).toBe(0);
    const r = cli(['info', '-m', root, '--check']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`MODEL_NON_FINITE: ${path.join(root, WEIGHTS['transformer']!)}: tensor 'proj_out.weight'`);
    expect(cli(['info', '-m', root]).code).toBe(0); // without --check nothing is read
  });
});
