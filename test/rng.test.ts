import { describe, expect, it } from 'vitest';
import { MAX_SEED, MersenneTwister, checkSeed, randn, randomSeed, seedLow32 } from '../lib/pipeline/rng.js';
import { readTensorFile } from '../lib/pipeline/tensor-file.js';

const golden = await readTensorFile(new URL('./fixtures/golden/rng/randn.safetensors', import.meta.url).pathname);

function parseKey(key: string): { seed: number; shape: number[] } {
  const m = /^seed(\d+)_([\dx]+)$/.exec(key);
  if (!m) throw new Error(`unexpected key ${key}`);
  return { seed: Number(m[1]), shape: m[2]!.split('x').map(Number) };
}

/** Round to bfloat16 (nearest, ties to even), back as a float32 value. */
function toBf16(x: number): number {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x);
  const bits = v.getUint32(0);
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  v.setUint32(0, rounded >>> 0);
  return v.getFloat32(0);
}

describe('MT19937', () => {
  it('matches the reference sequence for seed 5489', () => {
    // The 10000th output of the default-seeded mt19937 is 4123659995 (C++ standard, [rand.predef]).
    const g = new MersenneTwister(5489);
    let v = 0;
    for (let i = 0; i < 10000; i++) v = g.nextUint32();
    expect(v).toBe(4123659995);
  });
});

describe('randn', () => {
  const keys = [...golden.keys()].filter((k) => !k.endsWith('_bf16'));
  it('has golden keys', () => expect(keys.length).toBeGreaterThanOrEqual(15));

  for (const key of keys) {
    it(`${key} matches torch.randn`, () => {
      const { seed, shape } = parseKey(key);
      const ref = golden.get(key)!.data;
      const out = randn(shape, seed);
      expect(out.length).toBe(shape.reduce((a, b) => a * b, 1));
      let maxErr = 0;
      for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i]! - ref[i]!));
      expect(maxErr).toBeLessThanOrEqual(1e-6);
    });

    it(`${key}_bf16 is the float draw rounded to bfloat16`, () => {
      const { seed, shape } = parseKey(key);
      const ref = golden.get(`${key}_bf16`)!.data;
      const out = randn(shape, seed);
      let mismatches = 0;
      for (let i = 0; i < ref.length; i++) {
        if (toBf16(out[i]!) !== ref[i]) {
          // Only a float draw one float32 ulp off a bf16 rounding boundary may round the other way.
          mismatches++;
          expect(Math.abs(toBf16(out[i]!) - ref[i]!)).toBeLessThanOrEqual(Math.abs(ref[i]!) * 2 ** -7);
        }
      }
      expect(mismatches).toBeLessThanOrEqual(1);
    });
  }

  it('uses only the low 32 bits of the seed', () => {
    const a = randn([1, 16, 2, 2], 2n ** 40n + 3n);
    expect(a).toEqual(randn([1, 16, 2, 2], 3));
    expect(seedLow32(MAX_SEED)).toBe(0xffffffff);
    expect(randn([3], 2 ** 32 + 42)).toEqual(randn([3], 42));
  });

  it('rejects bad seeds', () => {
    expect(() => checkSeed(-1)).toThrow(RangeError);
    expect(() => checkSeed(1.5)).toThrow(RangeError);
    expect(() => checkSeed(MAX_SEED + 1n)).toThrow(RangeError);
    expect(checkSeed(MAX_SEED)).toBe(MAX_SEED);
  });

  it('draws random 64-bit seeds', () => {
    const a = randomSeed();
    const b = randomSeed();
    expect(a).not.toBe(b);
    expect(a >= 0n && a <= MAX_SEED).toBe(true);
  });

  it('is deterministic and roughly standard normal', () => {
    const a = randn([1, 16, 64, 64], 7);
    expect(a).toEqual(randn([1, 16, 64, 64], 7));
    let mean = 0;
    let sq = 0;
    for (const v of a) {
      mean += v;
      sq += v * v;
    }
    mean /= a.length;
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(Math.abs(sq / a.length - 1)).toBeLessThan(0.03);
  });
});
