/**
 * The GGUF header reader on damaged files: random byte changes in the header, truncations, absurd
 * counts and lengths. Each file must give a header or a ModelLoadError naming the file, in bounded time.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { readGgufHeader } from '../lib/model/gguf.js';

const VALID = readFileSync(fileURLToPath(new URL('./fixtures/golden/gguf/ovis_image-mixed.gguf', import.meta.url)));
const HEADER_END = 6080; // where the tensor data starts in the fixture

/** mulberry32: small seeded PRNG so failures reproduce. */
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

/** One random damage: header bytes, a 64-bit count or length set to something large, or a cut. */
function mutate(next: () => number): Buffer {
  const b = Buffer.from(VALID);
  switch (Math.floor(next() * 4)) {
    case 0:
      for (let i = 0, n = 1 + Math.floor(next() * 8); i < n; i++) b[Math.floor(next() * HEADER_END)] = Math.floor(next() * 256);
      return b;
    case 1: {
      const at = Math.floor(next() * (HEADER_END - 8));
      b.writeBigUInt64LE(BigInt(Math.floor(next() * 2 ** 40)), at);
      return b;
    }
    case 2:
      return b.subarray(0, Math.floor(next() * b.length));
    default: {
      const at = 8 + 8 * Math.floor(next() * 2); // tensor or kv count
      b.writeBigUInt64LE(BigInt(Math.floor(next() * 2 ** 20)), at);
      return b;
    }
  }
}

describe('GGUF header fuzz', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'ovis-gguf-fuzz-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the valid fixture', async () => {
    const h = await readGgufHeader(fileURLToPath(new URL('./fixtures/golden/gguf/ovis_image-mixed.gguf', import.meta.url)));
    expect(h.tensors).toHaveLength(85);
    expect(h.dataStart).toBe(HEADER_END);
  });

  it('300 damaged headers: a header or a ModelLoadError naming the file, each within 2 s', async () => {
    const next = rng(1234);
    const file = path.join(dir, 'fuzz.gguf');
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      writeFileSync(file, mutate(next));
      const start = performance.now();
      const result = await readGgufHeader(file).then(
        () => 'ok',
        (err: unknown) => {
          expect(err, `case ${i}`).toBeInstanceOf(ModelLoadError);
          expect((err as ModelLoadError).message).toContain(file);
          return (err as ModelLoadError).code;
        },
      );
      expect(performance.now() - start, `case ${i}`).toBeLessThan(2000);
      outcomes.set(result, (outcomes.get(result) ?? 0) + 1);
    }
    expect(outcomes.get('GGUF_TRUNCATED')).toBeGreaterThan(0);
    expect(outcomes.get('GGUF_BAD_HEADER')).toBeGreaterThan(0);
  }, 120_000);
});
