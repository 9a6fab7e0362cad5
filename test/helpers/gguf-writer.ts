/** Writes small GGUF v3 files for tests (string metadata only), and reads back a file's tensors raw. */
import { readFileSync } from 'node:fs';
import { gguf } from '@huggingface/gguf';

export interface RawGgufTensor {
  name: string;
  type: number; // ggml type id
  dims: number[]; // GGUF order: innermost first
  data: Buffer;
}

const ALIGN = 32;

function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function u64(v: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}
function str(s: string): Buffer {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([u64(bytes.length), bytes]);
}

export function writeGguf(tensors: RawGgufTensor[], metadata: Record<string, string> = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('GGUF', 'latin1'), u32(3), u64(tensors.length), u64(Object.keys(metadata).length)];
  for (const [k, v] of Object.entries(metadata)) parts.push(str(k), u32(8), str(v));
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset += Math.ceil(t.data.length / ALIGN) * ALIGN;
  }
  tensors.forEach((t, i) => parts.push(str(t.name), u32(t.dims.length), ...t.dims.map((d) => u64(d)), u32(t.type), u64(offsets[i]!)));
  const header = Buffer.concat(parts);
  const pad = Buffer.alloc((ALIGN - (header.length % ALIGN)) % ALIGN);
  const data = tensors.map((t) => Buffer.concat([t.data, Buffer.alloc(Math.ceil(t.data.length / ALIGN) * ALIGN - t.data.length)]));
  return Buffer.concat([header, pad, ...data]);
}

/** Every tensor of a GGUF file with its raw bytes (sizes from the next tensor's offset or the file end). */
export async function readGgufRaw(file: string): Promise<RawGgufTensor[]> {
  const { tensorInfos, tensorDataOffset } = await gguf(file, { allowLocalFile: true });
  const bytes = readFileSync(file);
  const start = Number(tensorDataOffset);
  const sorted = [...tensorInfos].sort((a, b) => Number(a.offset - b.offset));
  return tensorInfos.map((t) => {
    const next = sorted[sorted.indexOf(t) + 1];
    const end = next ? start + Number(next.offset) : bytes.length;
    return { name: t.name, type: t.dtype, dims: t.shape.map(Number), data: bytes.subarray(start + Number(t.offset), end) };
  });
}
