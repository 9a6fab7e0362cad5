/** Golden image-to-image cases (test/fixtures/golden/img2img) and the comparisons their tests share. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export interface Img2ImgCase {
  prompt: string;
  negative_prompt: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  seed: number;
  strength: number;
  t_start: number;
  denoising_steps: number;
  sigma_start: number;
}

export const golden = (p: string): string => fileURLToPath(new URL(`../fixtures/golden/${p}`, import.meta.url));

const manifest = JSON.parse(readFileSync(golden('manifest.json'), 'utf8')) as { cases: Record<string, unknown> };

export function img2imgCase(name: string): Img2ImgCase {
  const c = manifest.cases[`img2img/${name}`];
  if (c === undefined) throw new Error(`no golden case img2img/${name}`);
  return c as Img2ImgCase;
}

export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(out.length).toBe(ref.length);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ref.length; i++) {
    num += (out[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  expect(den).toBeGreaterThan(0);
  return Math.sqrt(num / den);
}

/** Share of bytes within ±1 of the reference. */
export function closeShare(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(out.length).toBe(ref.length);
  let close = 0;
  for (let i = 0; i < ref.length; i++) if (Math.abs(out[i]! - ref[i]!) <= 1) close++;
  return close / ref.length;
}
