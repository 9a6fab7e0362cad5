import { ModelLoadError } from '../errors.js';
import { openRegularFile } from './regular-file.js';
import type { FileIdentity } from './types.js';
import { SAFETENSORS_DTYPE_SIZES, isSafetensorsDType, type SafetensorsDType } from './dtype.js';

/** Headers above this size are not real checkpoints (the largest real ones are a few MB). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** No checkpoint of this model holds more tensors in one file (the whole model has ~1,500). */
export const MAX_TENSORS_PER_FILE = 65_536;

export interface HeaderTensor {
  key: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number; // relative to the data area
  end: number;
}

export interface SafetensorsHeader {
  file: string;
  fileSize: number;
  headerLength: number;
  dataStart: number; // 8 + headerLength: absolute offset of the data area
  tensors: HeaderTensor[];
  metadata: Record<string, string>;
  /** The file as it was when this header was read (set by readSafetensorsHeader). */
  identity?: FileIdentity;
}

/**
 * Reads and validates the header of a safetensors file, reading only the header bytes (checkpoints
 * can be tens of GB). Every problem is a ModelLoadError naming the file (and tensor).
 */
export async function readSafetensorsHeader(file: string): Promise<SafetensorsHeader> {
  const { handle, size, identity } = await openRegularFile(file, Number.MAX_SAFE_INTEGER);
  try {
    const prefix = Buffer.alloc(Math.min(8, size));
    await handle.read(prefix, 0, prefix.length, 0);
    const declared = prefix.length === 8 ? prefix.readBigUInt64LE(0) : 0n;
    const wanted = prefix.length === 8 && declared <= BigInt(MAX_HEADER_BYTES) ? Number(declared) : 0;
    const bytes = Buffer.alloc(Math.min(size, 8 + wanted));
    const { bytesRead } = await handle.read(bytes, 0, bytes.length, 0);
    return { ...parseSafetensorsHeader(bytes.subarray(0, bytesRead), size, file), identity };
  } finally {
    await handle.close();
  }
}

/** Reads the bytes of one tensor of a parsed header (small tensors only: noise files, scans). @internal */
export async function readTensorBytes(header: SafetensorsHeader, tensor: HeaderTensor): Promise<Buffer> {
  const { handle, size } = await openRegularFile(header.file, Number.MAX_SAFE_INTEGER);
  try {
    if (size !== header.fileSize) {
      throw new ModelLoadError('SAFETENSORS_TRUNCATED', `${header.file}: changed size while being read (${header.fileSize} -> ${size} bytes)`, { file: header.file });
    }
    const out = Buffer.alloc(tensor.end - tensor.begin);
    const { bytesRead } = await handle.read(out, 0, out.length, header.dataStart + tensor.begin);
    if (bytesRead !== out.length) throw new ModelLoadError('SAFETENSORS_TRUNCATED', `${header.file}: tensor '${tensor.key}': short read`, { file: header.file, tensor: tensor.key });
    return out;
  } finally {
    await handle.close();
  }
}

/**
 * Validates a header given the file's first bytes (at least 8 + header length when available) and
 * the file's total size. Pure, so it can be fuzzed without touching the disk.
 */
export function parseSafetensorsHeader(bytes: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  if (fileSize < 8 || bytes.length < 8) {
    throw new ModelLoadError('SAFETENSORS_TRUNCATED', `${file}: ${fileSize} bytes is too short for a safetensors file (expected an 8-byte header length first)`, { file });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES) || declared < 2n) {
    throw new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: header length ${declared} is absurd (expected 2..${MAX_HEADER_BYTES} bytes); not a safetensors file?`, { file });
  }
  const headerLength = Number(declared);
  if (8 + headerLength > fileSize || bytes.length < 8 + headerLength) {
    throw new ModelLoadError('SAFETENSORS_TRUNCATED', `${file}: header length ${headerLength} runs past the end of the ${fileSize}-byte file (truncated download, or not a safetensors file)`, { file });
  }
  const json = decodeHeaderJson(bytes.subarray(8, 8 + headerLength), file);
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  const tensors: HeaderTensor[] = [];
  let metadata: Record<string, string> = {};
  const entries = Object.keys(json).length;
  if (entries > MAX_TENSORS_PER_FILE + 1) {
    throw new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: holds ${entries} tensors, more than the ${MAX_TENSORS_PER_FILE} a checkpoint of this model can have (not a checkpoint of this model?)`, { file });
  }
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') {
      metadata = parseMetadata(value, file);
    } else {
      tensors.push(parseTensorEntry(key, value, file));
    }
  }
  checkOffsets(tensors, dataLength, file);
  return { file, fileSize, headerLength, dataStart, tensors, metadata };
}

function decodeHeaderJson(bytes: Uint8Array, file: string): Record<string, unknown> {
  let text: string;
  let parsed: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: header is not valid UTF-8 JSON (${(err as Error).message})`, { file });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: header must be a JSON object of tensors`, { file });
  }
  // The format pads the JSON with spaces only: anything else before '{' or after '}' means the
  // stated header length is wrong, and every tensor would be read shifted.
  const last = text.length - (text.length - text.trimEnd().length);
  if (text[0] !== '{' || text.slice(last).replace(/ /g, '') !== '') {
    throw new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: the header JSON must start with '{' and end at the stated length ${bytes.length} (only spaces may follow it)`, { file });
  }
  return parsed as Record<string, unknown>;
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: __metadata__ must be an object of strings`, { file });
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) out[k] = String(v);
  return out;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseTensorEntry(key: string, value: unknown, file: string): HeaderTensor {
  const bad = (what: string): ModelLoadError =>
    new ModelLoadError('SAFETENSORS_BAD_HEADER', `${file}: tensor '${key}': ${what}`, { file, tensor: key });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('entry must be an object');
  const entry = value as Record<string, unknown>;
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string') throw bad('missing "dtype" string');
  if (!isSafetensorsDType(dtype)) {
    throw new ModelLoadError('SAFETENSORS_BAD_DTYPE', `${file}: tensor '${key}': unknown dtype '${dtype}' (expected one of ${Object.keys(SAFETENSORS_DTYPE_SIZES).join(', ')})`, { file, tensor: key });
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad('"shape" must be an array of non-negative integers');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw bad('"data_offsets" must be [begin, end] with non-negative integers');
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) {
    throw new ModelLoadError('SAFETENSORS_BAD_OFFSETS', `${file}: tensor '${key}': data_offsets [${begin}, ${end}] end before they begin`, { file, tensor: key });
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const expected = count * SAFETENSORS_DTYPE_SIZES[dtype];
  if (!Number.isSafeInteger(expected) || expected !== end - begin) {
    throw new ModelLoadError('SAFETENSORS_BAD_OFFSETS', `${file}: tensor '${key}': ${dtype} shape [${(shape as number[]).join(', ')}] needs ${expected} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`, { file, tensor: key });
  }
  return { key, dtype, shape: shape as number[], begin, end };
}

/**
 * The tensors must tile the data area exactly, as the format requires: no overlap, no gap, and the
 * last one ends at the end of the file. A stated header length a few bytes off shows up here.
 */
function checkOffsets(tensors: HeaderTensor[], dataLength: number, file: string): void {
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: HeaderTensor | undefined;
  let gap: HeaderTensor | undefined;
  for (const t of sorted) {
    if (previous && t.begin < previous.end) {
      throw new ModelLoadError('SAFETENSORS_BAD_OFFSETS', `${file}: tensor '${t.key}' (bytes ${t.begin}..${t.end}) overlaps tensor '${previous.key}' (bytes ${previous.begin}..${previous.end})`, { file, tensor: t.key });
    }
    if (t.begin !== (previous ? previous.end : 0)) gap ??= t;
    previous = t;
  }
  const end = previous ? previous.end : 0;
  if (end > dataLength) {
    if (!gap) {
      throw new ModelLoadError('SAFETENSORS_TRUNCATED', `${file}: the tensors need ${end} data bytes but the file has only ${dataLength} after its header (truncated download?)`, { file, tensor: previous?.key });
    }
    const outside = sorted.find((t) => t.end > dataLength) ?? (previous as HeaderTensor);
    throw new ModelLoadError('SAFETENSORS_BAD_OFFSETS', `${file}: tensor '${outside.key}': data_offsets [${outside.begin}, ${outside.end}] lie outside the ${dataLength}-byte data area`, { file, tensor: outside.key });
  }
  if (gap) {
    const before = sorted[sorted.indexOf(gap) - 1];
    const from = before ? before.end : 0;
    throw new ModelLoadError('SAFETENSORS_BAD_OFFSETS', `${file}: data bytes ${from}..${gap.begin} belong to no tensor (a gap before tensor '${gap.key}'); the tensors must fill the data area`, { file, tensor: gap.key });
  }
  if (end < dataLength) {
    throw new ModelLoadError('SAFETENSORS_BAD_OFFSETS', `${file}: the tensors end at data byte ${end} but the file has ${dataLength - end} more bytes after them (wrong header length, or data appended)`, { file });
  }
}
