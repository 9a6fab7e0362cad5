// Fuzzing whole checkpoints for a bounded time: mutated headers, offsets, configs and weight values
// go through resolution and, when they resolve cleanly, through the real engine. No crash, no hang,
// no non-finite image: only typed errors. Each case is deterministic per seed (printed on failure);
// OVIS_FUZZ_SECONDS (default 24) and OVIS_FUZZ_SEED (default 1) widen or move the search.
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError, OvisError } from '../lib/errors.js';
import { formatPlanText, resolveModel } from '../lib/model/index.js';
import { scanWeights } from '../lib/model/weight-scan.js';
import { NativeModelEngine } from '../lib/native/engine.js';
import { TINY_DIFFUSERS, linkTree, readRawTensors, tempDir, removeTempDirs, writeRawTensors, type RawTensor } from './model-helpers.js';
import { tinyRequest } from './native-helpers.js';

const SECONDS = Number(process.env['OVIS_FUZZ_SECONDS'] ?? 24);
const SEED = Number(process.env['OVIS_FUZZ_SEED'] ?? 1);

/** mulberry32: small seeded PRNG so a failing case reproduces from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COMPONENTS = [
  { dir: 'transformer', weights: 'diffusion_pytorch_model.safetensors' },
  { dir: 'text_encoder', weights: 'model.safetensors' },
  { dir: 'vae', weights: 'diffusion_pytorch_model.safetensors' },
] as const;
const ORIGINAL = new Map(COMPONENTS.map((c) => [c.dir, readRawTensors(path.join(TINY_DIFFUSERS, c.dir, c.weights))]));
const WEIRD: unknown[] = [0, -1, 1e-300, 1e300, 1e6, 20_000, 2 ** 53, 0.5, 3.7, '12', null, true, [], [[[1]]], {}, -0.0];
const BF16_SPECIAL = [0x7fc0, 0x7f80, 0xff80, 0x7f7f, 0xff7f]; // NaN, +Inf, -Inf, ±3.4e38

type Kind = 'header' | 'offsets' | 'bytes' | 'config' | 'values';

/** Applies one random damage to a fresh copy of the tiny model; returns the kind applied. */
function damage(root: string, next: () => number): Kind {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const c = pick(COMPONENTS);
  const dir = path.join(root, c.dir);
  rmSync(dir, { recursive: true });
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'config.json'), readFileSync(path.join(TINY_DIFFUSERS, c.dir, 'config.json')));
  const file = path.join(dir, c.weights);
  const tensors: RawTensor[] = ORIGINAL.get(c.dir)!.map((t) => ({ ...t, data: Buffer.from(t.data) }));
  const kind = pick<Kind>(['header', 'offsets', 'bytes', 'config', 'values', 'values']);
  if (kind === 'header') {
    writeRawTensors(file, tensors, (h) => {
      const key = pick(Object.keys(h));
      const entry = h[key] as Record<string, unknown>;
      const field = pick(['dtype', 'shape', 'data_offsets', 'rename', 'delete', 'add']);
      if (field === 'rename') h[`${key}.x`] = entry;
      if (field === 'rename' || field === 'delete') delete h[key];
      else if (field === 'add') h[`blocks.${Math.floor(next() * 1e6)}.w`] = { dtype: 'BF16', shape: [0], data_offsets: [0, 0] };
      else if (field === 'shape') entry['shape'] = (entry['shape'] as number[]).map((d) => (next() < 0.5 ? d : pick([0, 1, d * 2, d + 1, 1e9]) as number));
      else entry[field] = pick(field === 'dtype' ? ['F32', 'F16', 'I16', 'U8', 'F64', 'X'] : WEIRD);
    });
  } else if (kind === 'offsets') {
    writeRawTensors(file, tensors, (h) => {
      const entry = h[pick(Object.keys(h))] as { data_offsets: number[] };
      const d = pick([-2, -1, 1, 2, 8, 1 << 20]);
      entry.data_offsets = next() < 0.5 ? [entry.data_offsets[0]! + d, entry.data_offsets[1]! + d] : [entry.data_offsets[0]!, entry.data_offsets[1]! + d];
    });
  } else if (kind === 'bytes') {
    writeRawTensors(file, tensors);
    const bytes = readFileSync(file);
    const what = Math.floor(next() * 3);
    if (what === 0) truncateSync(file, Math.floor(next() * bytes.length));
    else if (what === 1) appendFileSync(file, Buffer.alloc(1 + Math.floor(next() * 16)));
    else {
      const len = bytes.readBigUInt64LE(0);
      bytes.writeBigUInt64LE(len + BigInt(pick([-5, -3, -1, 1, 3, 5])));
      writeFileSync(file, bytes);
    }
  } else if (kind === 'config') {
    writeRawTensors(file, tensors);
    const config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    const numeric = Object.keys(config).filter((k) => !k.startsWith('_'));
    config[pick(numeric)] = pick(WEIRD);
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config));
  } else {
    const t = pick(tensors.filter((x) => x.dtype === 'BF16' && x.data.length > 0));
    for (let i = 0, n = 1 + Math.floor(next() * 3); i < n; i++) t.data.writeUInt16LE(pick(BF16_SPECIAL), 2 * Math.floor((next() * t.data.length) / 2));
    writeRawTensors(file, tensors);
  }
  return kind;
}

function expectFinite(data: Float32Array, what: string): void {
  const bad = data.findIndex((v) => !Number.isFinite(v));
  expect(bad, `${what} holds ${data[bad]} at ${bad}: a silent non-finite result`).toBe(-1);
}

/** One case: resolve; when clean, `info --check`'s scan and a real generate. Returns an outcome tag. */
async function runCase(seed: number): Promise<string> {
  const next = rng(seed);
  const root = path.join(tempDir('ckfuzz'), 'model');
  linkTree(TINY_DIFFUSERS, root);
  const kind = damage(root, next);
  const model = await resolveModel(root);
  for (const p of model.problems) {
    expect(p.message.length, p.message.slice(0, 200)).toBeLessThan(2000);
    expect(p.message).toContain(root);
  }
  if (model.problems.length > 0) return `${kind}: ${model.problems[0]!.code}`;
  const scan = await scanWeights(model.plan);
  let engine: NativeModelEngine;
  try {
    engine = await NativeModelEngine.create(formatPlanText(model.plan), { device: 'cpu', threads: 1 });
  } catch (err) {
    expect(err).toBeInstanceOf(OvisError);
    return `${kind}: load ${(err as OvisError).code}`;
  }
  try {
    const out = await engine.generate(tinyRequest({ steps: 1, side: 16, seed }));
    expectFinite(out.image.data, 'image');
    expectFinite(out.latents.data, 'latents');
    return `${kind}: ok${scan.length ? ' (scan found non-finite weights the run did not use)' : ''}`;
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(OvisError);
    const code = (err as OvisError).code;
    // Huge finite weights (3.4e38) overflow without any NaN/Inf stored: the scan need not see them.
    if (code === 'OVIS_NON_FINITE') expect((err as Error).message).toMatch(/is not finite|became (NaN|Inf) at step/);
    return `${kind}: ${code}${scan.length ? ' (seen by --check)' : ''}`;
  } finally {
    await engine.dispose();
  }
}

afterAll(removeTempDirs);

describe('checkpoint fuzz (bounded time)', () => {
  it(`only typed errors or finite images for ${SECONDS} s of damaged checkpoints (seed ${SEED})`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const t0 = performance.now();
    const outcomes = new Map<string, number>();
    let cases = 0;
    while (performance.now() - t0 < SECONDS * 1000) {
      const seed = SEED * 1_000_003 + cases;
      const started = performance.now();
      let outcome: string;
      try {
        outcome = await runCase(seed);
      } catch (err) {
        if (err instanceof ModelLoadError) outcome = `thrown ${err.code}`;
        else throw new Error(`fuzz case seed ${seed}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      expect(performance.now() - started, `case seed ${seed} took too long`).toBeLessThan(20_000);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      cases++;
      removeTempDirs();
    }
    expect(cases).toBeGreaterThan(3);
    console.log(`checkpoint fuzz: ${cases} cases`, Object.fromEntries([...outcomes].sort()));
  });
});
