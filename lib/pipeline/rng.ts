/**
 * PyTorch-compatible CPU `torch.randn` (MODEL.md "Seeds"): the same seed gives the same starting
 * noise as diffusers on the CPU, so the same image.
 */
import { randomBytes } from 'node:crypto';

/** Largest seed accepted: seeds are unsigned 64-bit like torch's `manual_seed`. */
export const MAX_SEED = (1n << 64n) - 1n;

const N = 624;
const M = 397;

/** MT19937 with the classic `init_genrand` seeding (what PyTorch's CPU generator uses). */
export class MersenneTwister {
  private readonly state = new Uint32Array(N);
  private index = N;

  constructor(seed32: number) {
    const mt = this.state;
    mt[0] = seed32 >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1]!;
      mt[i] = (Math.imul(1812433253, prev ^ (prev >>> 30)) + i) >>> 0;
    }
  }

  /** Next 32-bit output as an unsigned integer. */
  nextUint32(): number {
    if (this.index >= N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const mt = this.state;
    for (let i = 0; i < N; i++) {
      const y = (mt[i]! & 0x80000000) | (mt[(i + 1) % N]! & 0x7fffffff);
      mt[i] = (mt[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0)) >>> 0;
    }
    this.index = 0;
  }
}

/** Low 32 bits of a seed: torch seeds its MT19937 with them (seed 2^40 + 3 draws like 3). */
export function seedLow32(seed: number | bigint): number {
  return Number(BigInt.asUintN(32, BigInt(seed)));
}

/** Throws RangeError unless seed is an integer in [0, 2^64 - 1]. */
export function checkSeed(seed: number | bigint): bigint {
  if (typeof seed === 'number' && !Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
  const s = BigInt(seed);
  if (s < 0n || s > MAX_SEED) throw new RangeError(`seed must be in [0, 2^64 - 1], got ${seed}`);
  return s;
}

/** A fresh crypto-random 64-bit seed. */
export function randomSeed(): bigint {
  return randomBytes(8).readBigUInt64LE(0);
}

const TWO_POW_24 = 16777216;
const TWO_POW_53 = 9007199254740992;
// torch's vectorised kernel multiplies by 2π as a float32 constant.
const TWO_PI_F32 = Math.fround(2 * Math.PI);

/** `torch.randn(shape, generator=torch.Generator().manual_seed(seed))` on the CPU, float32. */
export function randn(shape: readonly number[], seed: number | bigint): Float32Array {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad shape [${shape.join(', ')}]`);
    n *= d;
  }
  const gen = new MersenneTwister(seedLow32(checkSeed(seed)));
  const out = new Float32Array(n);
  if (n >= 16) fillNormalFloat(out, gen);
  else fillNormalDouble(out, gen);
  return out;
}

/** ≥ 16 elements: float32 uniforms, Box-Muller on blocks of 16, the ragged tail redone on fresh draws. */
function fillNormalFloat(out: Float32Array, gen: MersenneTwister): void {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = (gen.nextUint32() & 0xffffff) / TWO_POW_24;
  for (let i = 0; i + 16 <= n; i += 16) boxMuller16(out, i);
  if (n % 16 !== 0) {
    const start = n - 16;
    for (let i = 0; i < 16; i++) out[start + i] = (gen.nextUint32() & 0xffffff) / TWO_POW_24;
    boxMuller16(out, start);
  }
}

/** torch's normal_fill_16 in float32: pairs (j, j + 8) of one block become cos/sin of one draw. */
function boxMuller16(d: Float32Array, off: number): void {
  for (let j = 0; j < 8; j++) {
    const u1 = 1 - d[off + j]!; // exact: d is a multiple of 2^-24
    const u2 = d[off + j + 8]!;
    const radius = Math.fround(Math.sqrt(Math.fround(-2 * Math.fround(Math.log(u1)))));
    const theta = Math.fround(TWO_PI_F32 * u2);
    d[off + j] = Math.fround(radius * Math.fround(Math.cos(theta)));
    d[off + j + 8] = Math.fround(radius * Math.fround(Math.sin(theta)));
  }
}

/** < 16 elements: torch's scalar path, double precision, the sine half kept for the next element. */
function fillNormalDouble(out: Float32Array, gen: MersenneTwister): void {
  let cached: number | undefined;
  for (let i = 0; i < out.length; i++) {
    if (cached !== undefined) {
      out[i] = cached;
      cached = undefined;
      continue;
    }
    const u1 = uniform53(gen);
    const u2 = uniform53(gen);
    const radius = Math.sqrt(-2 * Math.log1p(-u2));
    const theta = 2 * Math.PI * u1;
    cached = radius * Math.sin(theta);
    out[i] = radius * Math.cos(theta);
  }
}

/** Double uniform in [0, 1) from 53 bits of (first draw << 32 | second draw). */
function uniform53(gen: MersenneTwister): number {
  const hi = gen.nextUint32();
  const lo = gen.nextUint32();
  // (hi * 2^32 + lo) & (2^53 - 1) = (hi & 0x1fffff) * 2^32 + lo, exact in a double.
  return ((hi & 0x1fffff) * 4294967296 + lo) / TWO_POW_53;
}
