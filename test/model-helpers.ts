// Shared helpers of the model-*.test.ts files: fixture paths, temp copies, raw byte reads.
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const GOLDEN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'golden');
export const TINY_DIFFUSERS = path.join(GOLDEN, 'tiny-diffusers');
export const TINY_ORIGINAL = path.join(GOLDEN, 'tiny-original');

const created: string[] = [];

/** A fresh folder under the OS temp dir; `removeTempDirs` (call it in afterAll) deletes them all. */
export function tempDir(tag: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `ovis-${tag}-`));
  created.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** A copy of a folder tree made of symlinks to the original files (cheap; never written through). */
export function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = path.join(from, name);
    if (statSync(src).isDirectory()) linkTree(src, path.join(to, name));
    else symlinkSync(src, path.join(to, name));
  }
}

export function readBytes(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const out = Buffer.alloc(length);
    const n = readSync(fd, out, 0, length, offset);
    if (n !== length) throw new Error(`short read of ${file}`);
    return out;
  } finally {
    closeSync(fd);
  }
}

export interface RawTensor {
  key: string;
  dtype: string;
  shape: number[];
  data: Buffer;
}

/** All tensors of a safetensors file, read with plain fs (tests only: small files). */
export function readRawTensors(file: string): RawTensor[] {
  const buf = readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const json = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  return Object.entries(json)
    .filter(([k]) => k !== '__metadata__')
    .map(([key, v]) => ({ key, dtype: v.dtype, shape: v.shape, data: buf.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]) }));
}

/** Writes a safetensors file; `header` may be edited before writing to build damaged files. */
export function writeRawTensors(file: string, tensors: RawTensor[], edit?: (header: Record<string, unknown>) => void): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.key] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  edit?.(header);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => t.data)]));
}
