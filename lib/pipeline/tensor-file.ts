/**
 * Reads whole small safetensors files into Float32Arrays (noise files given to the CLI, test fixtures).
 * Model weights never come through here: the native engine maps those itself.
 */
import { readFile } from 'node:fs/promises';
import { OvisError } from '../errors.js';

export interface FloatTensor {
  shape: number[];
  data: Float32Array;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I32: 4, I64: 8 };

export async function readTensorFile(path: string): Promise<Map<string, FloatTensor>> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (cause) {
    throw new OvisError('OVIS_BAD_ARGUMENT', `cannot read tensor file ${path}: ${(cause as Error).message}`, { cause });
  }
  return parseTensorFile(buf, path);
}

export function parseTensorFile(buf: Buffer, name = 'tensor file'): Map<string, FloatTensor> {
  const bad = (why: string): OvisError => new OvisError('OVIS_BAD_ARGUMENT', `${name} is not a valid safetensors file: ${why}`);
  if (buf.length < 8) throw bad('shorter than its 8-byte header length');
  const headerLen = Number(buf.readBigUInt64LE(0));
  if (headerLen > buf.length - 8) throw bad(`header length ${headerLen} runs past the end of the file`);
  let header: Record<string, HeaderEntry | Record<string, string>>;
  try {
    header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8')) as typeof header;
  } catch {
    throw bad('header is not JSON');
  }
  const dataStart = 8 + headerLen;
  const out = new Map<string, FloatTensor>();
  for (const [key, raw] of Object.entries(header)) {
    if (key === '__metadata__') continue;
    const e = raw as HeaderEntry;
    const width = BYTES[e.dtype];
    if (width === undefined) throw bad(`tensor ${key} has unsupported dtype ${e.dtype}`);
    const count = e.shape.reduce((a, b) => a * b, 1);
    const [begin, end] = e.data_offsets;
    if (end - begin !== count * width || dataStart + end > buf.length) throw bad(`tensor ${key} has bad offsets`);
    out.set(key, { shape: [...e.shape], data: decode(buf, dataStart + begin, count, e.dtype) });
  }
  return out;
}

function decode(buf: Buffer, at: number, count: number, dtype: string): Float32Array {
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
