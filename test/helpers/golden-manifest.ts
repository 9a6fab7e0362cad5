/**
 * The golden fixtures (test/fixtures/golden): their paths, the manifest's whole-pipeline cases, and the
 * comparisons the golden tests share.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { decodePng } from '../../lib/pipeline/png.js';

export interface PipelineCase {
  prompt: string;
  negative_prompt: string;
  height: number;
  width: number;
  steps: number;
  guidance: number;
  seed: number;
}

/** The path of `p` inside test/fixtures/golden. */
export const golden = (p: string): string => fileURLToPath(new URL(`../fixtures/golden/${p}`, import.meta.url));

const manifest = JSON.parse(readFileSync(golden('manifest.json'), 'utf8')) as { cases: Record<string, unknown> };

/** The parameters of golden case `pipeline/<name>` (p1, p2, p3). */
export function pipelineCase(name: string): PipelineCase {
  const c = manifest.cases[`pipeline/${name}`];
  if (c === undefined) throw new Error(`no golden case pipeline/${name}`);
  return c as PipelineCase;
}

/** A golden case's parameters as generate() options. */
export function pipelineOptions(c: PipelineCase) {
  return {
    prompt: c.prompt,
    negativePrompt: c.negative_prompt,
    width: c.width,
    height: c.height,
    steps: c.steps,
    guidanceScale: c.guidance,
    seed: c.seed,
  };
}

/** ‖out − ref‖ / ‖ref‖ (same lengths, ref not all zero). */
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

/** Share of values within ±1 of the reference (8-bit images). */
export function closeShare(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(out.length).toBe(ref.length);
  let close = 0;
  for (let i = 0; i < ref.length; i++) if (Math.abs(out[i]! - ref[i]!) <= 1) close++;
  return close / ref.length;
}

/** Share of a PNG's values within ±1 of golden image `goldenPng` (a path inside the fixtures), same size. */
export function pngCloseShare(png: Buffer, goldenPng: string): number {
  const expected = decodePng(readFileSync(golden(goldenPng)));
  const got = decodePng(png);
  expect([got.width, got.height]).toEqual([expected.width, expected.height]);
  return closeShare(got.data, expected.data);
}
