import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { parseSafetensorsHeader, readSafetensorsHeader } from '../lib/model/index.js';
import { TINY_DIFFUSERS, tempDir, removeTempDirs } from './model-helpers.js';

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

const VALID = readFileSync(path.join(TINY_DIFFUSERS, 'text_encoder', 'model.safetensors'));
const HEADER_LEN = Number(VALID.readBigUInt64LE(0));
const PREFIX = VALID.subarray(0, 8 + HEADER_LEN);
const JSON_TEXT = PREFIX.subarray(8).toString('utf8');

function withLength(json: Buffer, declared?: bigint): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declared ?? BigInt(json.length));
  return Buffer.concat([len, json]);
}

const WEIRD: unknown[] = [-1, 0, 1.5, 1e300, 2 ** 53, 'F32', 'X', null, true, [], {}, [1, 2, 3], [-5, 3], [3, 1], ['a']];

/** One random damage to a valid header: bytes, text, structure or the length prefix. */
function mutate(next: () => number): { bytes: Buffer; fileSize: number } {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const dataSize = VALID.length - PREFIX.length;
  switch (Math.floor(next() * 5)) {
    case 0: {
      const b = Buffer.from(PREFIX);
      for (let i = 0, n = 1 + Math.floor(next() * 8); i < n; i++) b[Math.floor(next() * b.length)] = Math.floor(next() * 256);
      return { bytes: b, fileSize: b.length + dataSize };
    }
    case 1: {
      const json = JSON.parse(JSON_TEXT) as Record<string, Record<string, unknown>>;
      const keys = Object.keys(json).filter((k) => k !== '__metadata__');
      for (let i = 0, n = 1 + Math.floor(next() * 3); i < n; i++) {
        const entry = json[pick(keys)]!;
        const field = pick(['dtype', 'shape', 'data_offsets', 'extra']);
        entry[field] = next() < 0.5 ? pick(WEIRD) : Array.isArray(entry[field]) ? (entry[field] as unknown[]).map((v) => (next() < 0.5 ? pick(WEIRD) : v)) : pick(WEIRD);
      }
      if (next() < 0.2) (json as Record<string, unknown>)['__metadata__'] = pick(WEIRD);
      const b = withLength(Buffer.from(JSON.stringify(json)));
      return { bytes: b, fileSize: b.length + Math.floor(next() * dataSize * 1.2) };
    }
    case 2: {
      const cut = Math.floor(next() * JSON_TEXT.length);
      const b = withLength(Buffer.from(JSON_TEXT.slice(0, cut) + JSON_TEXT.slice(cut + Math.floor(next() * 20))));
      return { bytes: b, fileSize: b.length + dataSize };
    }
    case 3: {
      const declared = pick([0n, 1n, 7n, BigInt(HEADER_LEN - 1), BigInt(HEADER_LEN + 1), 1n << 63n, (1n << 64n) - 1n, BigInt(Math.floor(next() * 2 ** 32))]);
      const b = withLength(PREFIX.subarray(8), declared);
      return { bytes: b.subarray(0, Math.floor(next() * b.length) + 1), fileSize: Math.floor(next() * VALID.length) };
    }
    default: {
      const b = Buffer.alloc(Math.floor(next() * 64));
      for (let i = 0; i < b.length; i++) b[i] = Math.floor(next() * 256);
      return { bytes: b, fileSize: b.length + Math.floor(next() * 1000) };
    }
  }
}

afterAll(removeTempDirs);

describe('safetensors header fuzz', () => {
  it('parses the valid header', () => {
    const h = parseSafetensorsHeader(PREFIX, VALID.length, 'valid');
    expect(h.tensors.length).toBe(24);
    expect(h.dataStart).toBe(8 + HEADER_LEN);
  });

  it('throws only ModelLoadError on 4000 damaged headers (seeded)', () => {
    const next = rng(20240613);
    const codes = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const { bytes, fileSize } = mutate(next);
      try {
        parseSafetensorsHeader(bytes, fileSize, `case-${i}`);
        codes.set('ok', (codes.get('ok') ?? 0) + 1);
      } catch (err) {
        if (!(err instanceof ModelLoadError)) throw new Error(`case ${i}: ${String(err)}`, { cause: err });
        expect(err.message).toContain(`case-${i}`);
        codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      }
    }
    // the mutations reach every header check
    for (const code of ['SAFETENSORS_TRUNCATED', 'SAFETENSORS_BAD_HEADER', 'SAFETENSORS_BAD_DTYPE', 'SAFETENSORS_BAD_OFFSETS']) {
      expect(codes.get(code) ?? 0, code).toBeGreaterThan(5);
    }
  });

  it('reads damaged files from disk with the same guarantee', async () => {
    const next = rng(7);
    const dir = tempDir('fuzz');
    for (let i = 0; i < 200; i++) {
      const { bytes, fileSize } = mutate(next);
      const file = path.join(dir, `f${i}.safetensors`);
      writeFileSync(file, Buffer.concat([bytes, Buffer.alloc(Math.max(0, fileSize - bytes.length))]).subarray(0, fileSize));
      await readSafetensorsHeader(file).catch((err: unknown) => {
        if (!(err instanceof ModelLoadError)) throw new Error(`file ${i}: ${String(err)}`);
      });
    }
  });
});
