/**
 * Reads small safetensors files into Float32Arrays (noise files given to the CLI, test fixtures),
 * through the same header parser as the model loader (lib/model/safetensors.ts). Model weights
 * never come through here: the native engine maps those itself.
 */
import { ModelLoadError, OvisError } from '../errors.js';
import { readSafetensorsHeader, readTensorBytes, type HeaderTensor } from '../model/safetensors.js';
import { LATENT_CHANNELS } from './options.js';

export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const READABLE = new Set(['F32', 'F16', 'BF16', 'F64', 'I32', 'I64']);
const FLOAT = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Noise of a 16384×16384 image is 64 MiB of F32; nothing larger is a noise file. */
export const MAX_NOISE_BYTES = 8 * 16 * 2048 * 2048;

/** Every tensor of a small safetensors file (dtypes F32, F16, BF16, F64, I32, I64), as float32. */
export async function readTensorFile(file: string): Promise<Map<string, FloatTensor>> {
  const header = await readSafetensorsHeader(file);
  const out = new Map<string, FloatTensor>();
  for (const t of header.tensors) {
    if (!READABLE.has(t.dtype)) throw new ModelLoadError('SAFETENSORS_BAD_DTYPE', `${file}: tensor '${t.key}' is ${t.dtype}; expected one of ${[...READABLE].join(', ')}`, { file, tensor: t.key });
    out.set(t.key, { shape: [...t.shape], data: decode(await readTensorBytes(header, t), 0, t.end - t.begin, t.dtype) });
  }
  return out;
}

/** At most `n` names, each cut short: a file may hold 100,000 tensors with long names. */
function someNames(tensors: readonly HeaderTensor[], n = 5): string {
  const names = tensors.slice(0, n).map((t) => JSON.stringify(t.key.length > 40 ? `${t.key.slice(0, 40)}…` : t.key));
  return tensors.length === 0 ? 'it holds no tensor' : `it holds ${tensors.length} tensor(s): ${names.join(', ')}${tensors.length > n ? ', …' : ''}`;
}

/**
 * The initial noise of one image from a safetensors file holding a tensor "noise" [1, 16, H/8, W/8]
 * (H, W multiples of 16) of finite floats. Every problem is OVIS_INVALID_OPTIONS starting with
 * `label` (the CLI passes `--noise <file>`).
 */
export async function readNoiseFile(file: string, label = file): Promise<FloatTensor> {
  const invalid = (why: string, cause?: unknown): OvisError => new OvisError('OVIS_INVALID_OPTIONS', `${label}: ${why}`, cause ? { cause } : undefined);
  const expected = `one float tensor named "noise" of shape [1, ${LATENT_CHANNELS}, H/8, W/8]`;
  let header;
  try {
    header = await readSafetensorsHeader(file);
  } catch (err) {
    if (!(err instanceof ModelLoadError)) throw err;
    throw invalid(`${err.message.startsWith(`${file}: `) ? err.message.slice(file.length + 2) : err.message} (expected a safetensors file with ${expected})`, err);
  }
  const t = header.tensors.find((x) => x.key === 'noise');
  if (!t) throw invalid(`no tensor named "noise" (expected ${expected}; ${someNames(header.tensors)})`);
  if (!FLOAT.has(t.dtype)) throw invalid(`"noise" is ${t.dtype}; expected F32, F16, BF16 or F64`);
  const s = t.shape;
  if (s.length !== 4 || s[0] !== 1 || s[1] !== LATENT_CHANNELS) throw invalid(`"noise" must have shape [1, ${LATENT_CHANNELS}, H/8, W/8] (got [${s.join(', ')}])`);
  const [, , h8, w8] = s as [number, number, number, number];
  if (h8 === 0 || w8 === 0 || h8 % 2 !== 0 || w8 % 2 !== 0) {
    throw invalid(`shape [${s.join(', ')}] is for ${w8 * 8}×${h8 * 8} pixels, but width and height must be multiples of 16 (the noise file's H/8 and W/8 must be even and not zero)`);
  }
  if (t.end - t.begin > MAX_NOISE_BYTES) throw invalid(`"noise" [${s.join(', ')}] is larger than any image this model can make (${MAX_NOISE_BYTES} bytes at most)`);
  const data = decode(await readTensorBytes(header, t), 0, t.end - t.begin, t.dtype);
  const bad = data.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw invalid(`"noise" holds ${data[bad]} at index ${bad}; noise values must be finite float32 numbers`);
  return { shape: [...s], data };
}

const WIDTH: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };

function decode(buf: Buffer, at: number, byteLength: number, dtype: string): Float32Array {
  const count = byteLength / (WIDTH[dtype] ?? 1);
  const out = new Float32Array(count);
  const scratch = new DataView(new ArrayBuffer(4));
  for (let i = 0; i < count; i++) {
    switch (dtype) {
      case 'F32':
        out[i] = buf.readFloatLE(at + 4 * i);
        break;
      case 'F64':
        out[i] = buf.readDoubleLE(at + 8 * i);
        break;
      case 'I32':
        out[i] = buf.readInt32LE(at + 4 * i);
        break;
      case 'I64':
        out[i] = Number(buf.readBigInt64LE(at + 8 * i));
        break;
      case 'BF16':
        scratch.setUint32(0, buf.readUInt16LE(at + 2 * i) << 16);
        out[i] = scratch.getFloat32(0);
        break;
      case 'F16':
        out[i] = halfToFloat(buf.readUInt16LE(at + 2 * i));
        break;
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Writes float32 tensors as a safetensors file's bytes (for noise files and tests). */
export function encodeTensorFile(tensors: Record<string, FloatTensor>): Buffer {
  const header: Record<string, HeaderEntry> = {};
  let offset = 0;
  for (const [key, t] of Object.entries(tensors)) {
    header[key] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.length * 4] };
    offset += t.data.length * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // keep tensor data 8-aligned
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const parts: Buffer[] = [head, Buffer.from(json, 'utf8')];
  for (const t of Object.values(tensors)) parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return Buffer.concat(parts);
}
