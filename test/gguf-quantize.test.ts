/**
 * Quantize on load (`weights`, `textEncoderWeights`, CLI `--weights`): which tensors the plan marks,
 * option errors, and the error each type adds on the golden tiny model (final latents of pipeline p1
 * against the stored-weights run, which is the reference's answer). Needs the CPU addon.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisError } from '../lib/errors.js';
import { assertUsable, resolveModel } from '../lib/model/index.js';
import { quantizeOnLoad, type WeightType } from '../lib/model/plan-quantize.js';
import { OvisImage } from '../lib/ovis-image.js';
import { readTensorFile } from '../lib/pipeline/tensor-file.js';
import { assertBuilt } from './cli-helpers.js';
import { golden, pipelineCase, pipelineOptions, relErr } from './helpers/golden-manifest.js';

const p1 = pipelineCase('p1');
const p1Options = pipelineOptions(p1);


describe('quantize on load: the plan', () => {
  it('marks the float Linear weights whose rows are whole blocks, and nothing else', async () => {
    const { plan } = assertUsable(await resolveModel(golden('tiny-diffusers')));
    const q8 = quantizeOnLoad(plan, 'dit.', 'q8_0');
    const dtype = (name: string): string | undefined => q8.plan.tensors.find((t) => t.name === name)?.dtype;
    expect(dtype('dit.double.0.img.qkv.weight')).toBe('q8_0');
    expect(dtype('dit.double.0.img.qkv.bias')).toBe('bf16');
    expect(dtype('dit.double.0.img.q_norm.weight')).toBe('bf16');
    expect(dtype('te.layers.0.qkv.weight')).toBe('bf16'); // another component
    expect(q8.kept).toEqual(['dit.txt_in.weight']); // 16 context features: not a whole block of 32
    const k4 = quantizeOnLoad(plan, 'dit.', 'q4_k'); // 256-value blocks: only 256-wide inputs
    expect(k4.plan.tensors.filter((t) => t.dtype === 'q4_k').map((t) => t.name).sort()).toEqual(
      ['dit.double.0.img.mlp_out.weight', 'dit.double.0.txt.mlp_out.weight', 'dit.double.1.img.mlp_out.weight', 'dit.double.1.txt.mlp_out.weight', 'dit.time_in.0.weight'].sort(),
    );
    const te = quantizeOnLoad(plan, 'te.', 'q8_0');
    expect(te.plan.tensors.find((t) => t.name === 'te.embed.weight')?.dtype).toBe('bf16');
    expect(quantizeOnLoad(plan, 'dit.', 'bf16').plan).toBe(plan);
  });

  it('rejects an unknown weight type, naming the option and the choices', async () => {
    const err = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', weights: 'q3_k' as never }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OvisError);
    expect((err as OvisError).code).toBe('OVIS_INVALID_OPTIONS');
    expect((err as OvisError).message).toMatch(/'weights'.*'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q4_0'/);
    const te = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', textEncoderWeights: 'int8' as never }).catch((e: unknown) => e);
    expect((te as OvisError).message).toMatch(/'textEncoderWeights'/);
  });
});

describe('quantize on load: error added on the golden tiny model (p1)', () => {
  let reference: Float32Array;
  beforeAll(async () => {
    reference = (await readTensorFile(golden('pipeline/p1/io.safetensors'))).get('final_latents_packed')!.data;
  });

  // Bounds are ~3x what was measured (bench/RESULTS.md); a wrong block layout gives O(1) errors.
  const bounds: Record<Exclude<WeightType, 'bf16'>, number> = { q8_0: 0.02, q6_k: 0.02, q5_k: 0.05, q4_k: 0.1, q4_0: 0.3 };
  for (const [type, bound] of Object.entries(bounds) as [WeightType, number][]) {
    it(`weights: '${type}'`, async () => {
      const model = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', threads: 2, weights: type });
      try {
        const err = relErr((await model.generate(p1Options)).latents, reference);
        console.log(`quantize-on-load ${type}: final latents rel err ${err.toExponential(2)} vs bf16 (tiny-diffusers p1)`);
        expect(err).toBeGreaterThan(0);
        expect(err).toBeLessThan(bound);
      } finally {
        await model.dispose();
      }
    });
  }

  it("textEncoderWeights: 'q8_0'", async () => {
    const model = await OvisImage.load(golden('tiny-diffusers'), { device: 'cpu', threads: 2, textEncoderWeights: 'q8_0' });
    try {
      const err = relErr((await model.generate(p1Options)).latents, reference);
      console.log(`quantize-on-load text encoder q8_0: final latents rel err ${err.toExponential(2)} vs bf16 (tiny-diffusers p1)`);
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(0.05);
    } finally {
      await model.dispose();
    }
  });
});

describe('quantize on load: CLI', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ovis-quant-cli-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const bin = fileURLToPath(new URL('../bin/ovis-image.js', import.meta.url));
  const args = (out: string, weights: string): string[] =>
    ['generate', '-m', golden('tiny-diffusers'), '-p', 'x', '--width', '32', '--height', '32', '--steps', '1', '--device', 'cpu', '--weights', weights, '-o', out, '-v'];

  it('--weights q4_0 says what it quantizes and writes the image', async () => {
    assertBuilt();
    const out = path.join(dir, 'q.png');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args(out, 'q4_0'), '--seed', '1']);
    expect(stdout).toBe(`${out}\tseed=1\n`);
    expect(stderr).toMatch(/quantizing \d+ MMDiT weights to q4_0 while loading; 1 kept as stored/);
  });

  it('--weights with an unknown type is a usage error before loading', async () => {
    assertBuilt();
    const err = (await promisify(execFile)(process.execPath, [bin, ...args(path.join(dir, 'x.png'), 'q3_k')]).catch((e: unknown) => e)) as { code: number; stderr: string };
    expect(err.code).not.toBe(0);
    expect(err.stderr).toMatch(/--weights must be one of 'bf16', 'q8_0', 'q6_k', 'q5_k', 'q4_k', 'q4_0' \(got "?q3_k"?\)/);
    expect(err.stderr).not.toMatch(/loading/);
  });
});
