import { openRegularFile } from './regular-file.js';
import type { FileIdentity } from './types.js';
import { gguf } from '@huggingface/gguf';
import { ModelLoadError } from '../errors.js';
import { BLOCK_DTYPES, isBlockDType, type StoredDType } from './dtype.js';

/** ggml type ids (the `type` field of a GGUF tensor info) and their names. */
const GGML_TYPE_NAMES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

const SUPPORTED = 'F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K';

/** Smallest bytes one key/value pair and one tensor info can take (version 2/3): bounds the counts. */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;

export interface GgufTensor {
  key: string;
  dtype: StoredDType;
  shape: number[]; // PyTorch order: GGUF's dims reversed (GGUF lists the innermost first)
  offset: number; // absolute byte offset in the file
  byteLength: number;
}

export interface GgufHeader {
  file: string;
  fileSize: number;
  identity: FileIdentity;
  dataStart: number;
  tensors: GgufTensor[];
  metadata: Record<string, unknown>;
}

/** Elements per block and bytes per block of a supported GGUF dtype. */
function blockOf(dtype: StoredDType): { elements: number; bytes: number } {
  if (isBlockDType(dtype)) return BLOCK_DTYPES[dtype];
  return { elements: 1, bytes: dtype === 'F32' ? 4 : 2 };
}

function storedDType(typeId: number): StoredDType | undefined {
  const name = GGML_TYPE_NAMES[typeId];
  return name === 'F32' || name === 'F16' || name === 'BF16' || (name !== undefined && isBlockDType(name)) ? (name as StoredDType) : undefined;
}

/** Magic, version and counts, checked against the file size before the reader walks the header. */
async function checkPreamble(file: string): Promise<{ size: number; identity: FileIdentity }> {
  const { handle, size, identity } = await openRegularFile(file, Number.MAX_SAFE_INTEGER);
  try {
    const head = Buffer.alloc(24);
    const { bytesRead } = await handle.read(head, 0, 24, 0);
    if (bytesRead < 4 || head.toString('latin1', 0, 4) !== 'GGUF') {
      throw new ModelLoadError('GGUF_BAD_HEADER', `${file}: not a GGUF file (it does not start with 'GGUF')`, { file });
    }
    if (bytesRead < 24) throw new ModelLoadError('GGUF_TRUNCATED', `${file}: ${size} bytes is too short for a GGUF header`, { file });
    const version = head.readUInt32LE(4);
    if (version !== 2 && version !== 3) {
      throw new ModelLoadError('GGUF_BAD_HEADER', `${file}: GGUF version ${version} is not supported (expected 2 or 3, little-endian)`, { file });
    }
    const tensors = head.readBigUInt64LE(8);
    const kvs = head.readBigUInt64LE(16);
    if (tensors * BigInt(MIN_TENSOR_INFO_BYTES) + kvs * BigInt(MIN_KV_BYTES) > BigInt(size)) {
      throw new ModelLoadError('GGUF_TRUNCATED', `${file}: the header declares ${tensors} tensors and ${kvs} metadata entries, more than ${size} bytes can hold (truncated, or not a GGUF file)`, { file });
    }
    return { size, identity };
  } finally {
    await handle.close();
  }
}

/**
 * Reads and validates a GGUF file's header (metadata and tensor infos) with @huggingface/gguf, reading
 * only the header. Every problem is a ModelLoadError naming the file (and tensor, and type).
 */
export async function readGgufHeader(file: string): Promise<GgufHeader> {
  const { size: fileSize, identity } = await checkPreamble(file);
  let parsed: Awaited<ReturnType<typeof gguf>>;
  try {
    parsed = await gguf(file, { allowLocalFile: true });
  } catch (err) {
    throw new ModelLoadError('GGUF_BAD_HEADER', `${file}: cannot read the GGUF header: ${(err as Error).message}`, { file });
  }
  const headerEnd = parsed.tensorInfoByteRange[1];
  const dataStart = Number(parsed.tensorDataOffset);
  if (headerEnd > fileSize || dataStart > fileSize) {
    throw new ModelLoadError('GGUF_TRUNCATED', `${file}: the header needs ${Math.max(headerEnd, dataStart)} bytes but the file has ${fileSize} (truncated download?)`, { file });
  }
  const tensors = parsed.tensorInfos.map((info) => tensorOf(file, info, dataStart, fileSize));
  checkOverlaps(file, tensors);
  return { file, fileSize, identity, dataStart, tensors, metadata: parsed.metadata as Record<string, unknown> };
}

interface TensorInfo {
  name: string;
  shape: bigint[];
  dtype: number;
  offset: bigint;
}

function tensorOf(file: string, info: TensorInfo, dataStart: number, fileSize: number): GgufTensor {
  const key = info.name;
  const typeName = GGML_TYPE_NAMES[info.dtype] ?? `type ${info.dtype}`;
  const dtype = storedDType(info.dtype);
  if (!dtype) {
    throw new ModelLoadError('GGUF_BAD_TYPE', `${file}: tensor '${key}' is ${typeName}, which the engine cannot compute with (supported: ${SUPPORTED})`, { file, tensor: key });
  }
  const dims = info.shape.map(Number);
  const shape = [...dims].reverse();
  const block = blockOf(dtype);
  const elements = dims.reduce((a, b) => a * b, 1);
  if (dims.length === 0 || dims.some((d) => !Number.isSafeInteger(d) || d <= 0) || !Number.isSafeInteger(elements) || (dims[0] ?? 0) % block.elements !== 0) {
    throw new ModelLoadError('TENSOR_BAD_SHAPE', `${file}: tensor '${key}' (${typeName}) has shape [${shape.join(', ')}], whose rows of ${dims[0]} values are not whole ${typeName} blocks of ${block.elements}`, { file, tensor: key });
  }
  const byteLength = (elements / block.elements) * block.bytes;
  const offset = dataStart + Number(info.offset);
  if (!Number.isSafeInteger(offset) || offset + byteLength > fileSize) {
    throw new ModelLoadError('GGUF_TRUNCATED', `${file}: tensor '${key}' (${typeName}, [${shape.join(', ')}]) needs bytes ${offset}..${offset + byteLength} but the file has ${fileSize} (truncated download?)`, { file, tensor: key });
  }
  return { key, dtype, shape, offset, byteLength };
}

function checkOverlaps(file: string, tensors: GgufTensor[]): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.offset < prev.offset + prev.byteLength) {
      throw new ModelLoadError('GGUF_BAD_HEADER', `${file}: tensor '${cur.key}' overlaps tensor '${prev.key}'`, { file, tensor: cur.key });
    }
  }
}
