/**
 * precision 'bf16' on the CPU (bf16 linear layers and attention on AVX512-BF16): the golden pipelines p1..p3 on
 * tiny-diffusers against diffusers' f32 answers with the bf16 bound (final latents within 1e-2), the
 * results really differ from the f32 engine's (the option is honoured), the default stays f32, and a
 * CPU without AVX512-BF16 (here: OVIS_CPU_ISA=avx2) computes in f32 and says so with --verbose.
 * The golden cases are skipped, with the reason in their title, on CPUs without AVX512-BF16.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCpuBinding } from '../lib/native/index.js';
import { OvisImage } from '../lib/ovis-image.js';
import { readTensorFile, type FloatTensor } from '../lib/pipeline/tensor-file.js';
import { golden, pipelineCase, pipelineOptions, relErr } from './helpers/golden-manifest.js';

const bin = fileURLToPath(new URL('../bin/ovis-image.js', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)));
const run = promisify(execFile);

const CASES = ['p1', 'p2', 'p3'] as const;
const BF16_BOUND = 1e-2;
const hasBf16 = loadCpuBinding().binding.cpuFeatures?.().avx512bf16 === true;
const skipReason = hasBf16 ? '' : ' (skipped: this CPU has no AVX512-BF16)';



describe.skipIf(!hasBf16)(`precision 'bf16' on the CPU: golden pipelines${skipReason}`, () => {
  let bf16: OvisImage;
  let f32: OvisImage;
  const notes: string[] = [];
  const refs = new Map<string, Map<string, FloatTensor>>();
  beforeAll(async () => {
    for (const id of CASES) refs.set(id, await readTensorFile(golden(`pipeline/${id}/io.safetensors`)));
    bf16 = await OvisImage.load(golden('tiny-diffusers'), {
      device: 'cpu',
      threads: 2,
      precision: 'bf16',
      onProgress: (p) => {
        if (p.phase === 'backend') notes.push(p.message);
      },
    });
    f32 = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', threads: 2 }); // the CPU default: fp32
  });
  afterAll(async () => {
    await bf16?.dispose();
    await f32?.dispose();
  });

  it('says the linear layers and attention run in bf16', () => {
    expect(notes.join('\n')).toMatch(/precision 'bf16' on the CPU: bf16 linear layers and attention/);
  });

  for (const id of CASES) {
    it(`${id}: final latents within ${BF16_BOUND} of diffusers, and not the f32 result`, async () => {
      const c = pipelineCase(id);
      const ref = refs.get(id)!.get('final_latents_packed')!.data;
      const got = await bf16.generate(pipelineOptions(c));
      const err = relErr(got.latents, ref);
      expect(err).toBeLessThanOrEqual(BF16_BOUND);
      const exact = await f32.generate(pipelineOptions(c));
      expect(relErr(exact.latents, ref)).toBeLessThanOrEqual(1e-4); // the default is still f32
      // bf16 rounding must show against the f32 engine: the option reached the GEMM.
      expect(relErr(got.latents, exact.latents)).toBeGreaterThan(1e-6);
    });
  }
});

describe.skipIf(!built)("precision 'bf16' on a CPU without AVX512-BF16 (OVIS_CPU_ISA=avx2)", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ovis-bf16-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('computes in f32 and says so once with --verbose', async () => {
    const p3 = pipelineCase('p3');
    const out = path.join(dir, 'p3.png');
    const args = ['-p', p3.prompt, '--width', '32', '--height', '32', '--steps', '2', '--guidance', '1', '--seed', String(p3.seed)];
    const { stdout, stderr } = await run(
      process.execPath,
      [bin, 'generate', '-m', golden('tiny-diffusers'), ...args, '--device', 'cpu', '--threads', '2', '--precision', 'bf16', '-v', '-o', out],
      { env: { ...process.env, OVIS_CPU_ISA: 'avx2' } },
    );
    expect(stdout).toBe(`${out}\tseed=${p3.seed}\n`);
    const notes = stderr.split('\n').filter((l) => l.includes("precision 'bf16'"));
    expect(notes).toEqual(["backend: precision 'bf16' on the CPU: this CPU has no AVX512-BF16 (or OVIS_CPU_ISA caps it), computing in f32"]);
  });
});
