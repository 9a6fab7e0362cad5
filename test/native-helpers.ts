// Shared helpers of the test/native-*.test.ts files (they load the real addon: build it first with
// `npm run build:native`).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPlanText, resolveModel } from '../lib/model/index.js';
import type { NativeGenerateRequest } from '../types/native.js';

export const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'golden');
export const TINY_DIFFUSERS = path.join(GOLDEN, 'tiny-diffusers');

let planText: Promise<string> | undefined;

/** The weight plan of the golden tiny model, as lib/model writes it. */
export function tinyPlanText(): Promise<string> {
  planText ??= resolveModel(TINY_DIFFUSERS).then((m) => formatPlanText(m.plan));
  return planText;
}

export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a rejection');
}

/** ||a - b|| / ||b||. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** Deterministic values in [-1, 1) (never all zero). */
export function noise(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** A text-to-image request for the tiny model: `steps` Euler steps on a side x side image. */
export function tinyRequest(opts: { steps?: number; side?: number; guidance?: number; seed?: number } = {}): NativeGenerateRequest {
  const steps = opts.steps ?? 2;
  const side = opts.side ?? 32;
  const tokens = 32;
  const ids = new Int32Array(tokens).map((_, i) => 1000 + 37 * i);
  const mask = new Int32Array(tokens).fill(1);
  const sigmas = new Float32Array(steps + 1).map((_, i) => 1 - i / steps);
  const h = side / 8;
  return {
    ids,
    mask,
    negIds: ids.slice(),
    negMask: mask.slice(),
    tokens,
    dropPrefix: 28,
    noise: noise(16 * h * h, opts.seed ?? 7),
    noiseShape: [1, 16, h, h],
    sigmas,
    guidance: opts.guidance ?? 3,
    reportLatents: false,
  };
}
