// Paths in the weight plan: any character in a folder name keeps its meaning, and the engine maps
// only the files whose headers were checked.
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatPlanText, resolveModel } from '../lib/model/index.js';
import { NativeModelEngine } from '../lib/native/engine.js';
import { TINY_DIFFUSERS, linkTree, tempDir, removeTempDirs } from './model-helpers.js';
import { rejection, tinyRequest } from './native-helpers.js';

afterAll(removeTempDirs);

describe('weight plan paths', () => {
  it('a folder name with a newline, quotes and "file 0" in it loads the files it names', async () => {
    const root = path.join(tempDir('paths'), 'odd\nfile 0 /etc/passwd "x" \\ é', 'model');
    linkTree(TINY_DIFFUSERS, root);
    const model = await resolveModel(root);
    expect(model.problems).toEqual([]);
    const text = formatPlanText(model.plan);
    const lines = text.trimEnd().split('\n');
    expect(lines.every((l) => /^(ovis-plan|file|config|tensor|piece|end)( |$)/.test(l))).toBe(true);
    const files = lines.filter((l) => l.startsWith('file ')).map((l) => JSON.parse(l.split(' ').slice(6).join(' ')) as string);
    expect(files.sort()).toEqual([...model.plan.files.keys()].sort());
    expect(files.every((f) => f.startsWith(root))).toBe(true);
    const engine = await NativeModelEngine.create(text, { device: 'cpu', threads: 1 });
    try {
      const out = await engine.generate(tinyRequest({ steps: 1, side: 16 }));
      expect(out.image.shape).toEqual([1, 3, 16, 16]);
    } finally {
      await engine.dispose();
    }
  });

  it('a file replaced between the check and the load is refused', async () => {
    const root = path.join(tempDir('swap'), 'model');
    linkTree(TINY_DIFFUSERS, root);
    const vae = path.join(root, 'vae', 'diffusion_pytorch_model.safetensors');
    rmSync(vae);
    copyFileSync(path.join(TINY_DIFFUSERS, 'vae', 'diffusion_pytorch_model.safetensors'), vae);
    const text = formatPlanText((await resolveModel(root)).plan);
    const bytes = readFileSync(vae);
    rmSync(vae);
    writeFileSync(vae, bytes); // same bytes, another file
    const err = await rejection(NativeModelEngine.create(text, { device: 'cpu', threads: 1 }));
    expect(err.code).toBe('OVIS_WEIGHTS_CHANGED');
    expect(err.message).toContain(vae);
    expect(err.message).toContain('not the file whose headers were checked');
  });
});
