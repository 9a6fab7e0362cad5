import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ModelLoadError } from '../errors.js';
import { readGgufHeader } from './gguf.js';
import { readJsonFile } from './config-schemas.js';
import { readSafetensorsHeader, type SafetensorsHeader } from './safetensors.js';
import type { FileIdentity, StoredTensor, TensorSource } from './types.js';

const INDEX_SUFFIX = '.safetensors.index.json';
const GGUF_SUFFIX = '.gguf';

/** What a path is (links followed): 'other' is a FIFO, device or socket; undefined when it does not exist. */
export async function pathKind(p: string): Promise<'file' | 'dir' | 'other' | undefined> {
  try {
    const s = await stat(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return undefined;
  }
}

/**
 * The weights file of a component folder: an index of shards if there is one, else the preferred
 * (or only) `.safetensors` file, else a `.gguf` file. Undefined when the folder holds no weights.
 */
export async function findWeightsIn(dir: string, preferred: readonly string[]): Promise<string | undefined> {
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return undefined;
  }
  const indexes = names.filter((n) => n.endsWith(INDEX_SUFFIX));
  const byPreference = (list: string[]): string | undefined =>
    preferred.map((p) => list.find((n) => n.startsWith(p))).find((n) => n !== undefined) ?? list[0];
  const index = byPreference(indexes);
  if (index) return path.join(dir, index);
  const single = byPreference(names.filter((n) => n.endsWith('.safetensors'))) ?? byPreference(names.filter((n) => n.endsWith(GGUF_SUFFIX)));
  return single ? path.join(dir, single) : undefined;
}

function storedTensors(header: SafetensorsHeader): StoredTensor[] {
  return header.tensors.map((t) => ({
    key: t.key,
    file: header.file,
    dtype: t.dtype,
    shape: t.shape,
    offset: header.dataStart + t.begin,
    byteLength: t.end - t.begin,
  }));
}

/** The tensors of a GGUF file (shapes in PyTorch order); a name given twice is an error. */
async function ggufSource(file: string): Promise<TensorSource> {
  const header = await readGgufHeader(file);
  const tensors = new Map<string, StoredTensor>();
  for (const t of header.tensors) {
    if (tensors.has(t.key)) throw new ModelLoadError('GGUF_BAD_HEADER', `${file}: tensor '${t.key}' is listed twice`, { file, tensor: t.key });
    tensors.set(t.key, { ...t, file });
  }
  return { files: [file], tensors, identities: new Map([[file, header.identity]]) };
}

/** Reads the headers of a `.safetensors` or `.gguf` file or of every shard of a `.safetensors.index.json`. */
export async function openTensorSource(weightsPath: string): Promise<TensorSource> {
  const file = path.resolve(weightsPath);
  if (file.endsWith(GGUF_SUFFIX)) return ggufSource(file);
  if (!file.endsWith(INDEX_SUFFIX)) {
    const header = await readSafetensorsHeader(file);
    return { files: [file], tensors: new Map(storedTensors(header).map((t) => [t.key, t])), identities: identityMap([header]) };
  }
  const weightMap = await readWeightMap(file);
  const shardNames = [...new Set(weightMap.values())];
  const tensors = new Map<string, StoredTensor>();
  const files: string[] = [];
  const headers: SafetensorsHeader[] = [];
  for (const shardName of shardNames) {
    const shard = path.resolve(path.dirname(file), shardName);
    if ((await pathKind(shard)) !== 'file') {
      throw new ModelLoadError('MODEL_MISSING_COMPONENT', `${file}: shard '${shardName}' is missing (expected ${shard})`, { file: shard });
    }
    files.push(shard);
    const header = await readSafetensorsHeader(shard);
    headers.push(header);
    for (const t of storedTensors(header)) tensors.set(t.key, t);
  }
  for (const [key, shardName] of weightMap) {
    const found = tensors.get(key);
    if (!found || path.basename(found.file) !== path.basename(shardName)) {
      const shard = path.resolve(path.dirname(file), shardName);
      throw new ModelLoadError('TENSOR_MISSING', `${shard}: tensor '${key}' is listed in ${path.basename(file)} but not stored in this shard`, { file: shard, tensor: key });
    }
  }
  return { files, tensors, identities: identityMap(headers) };
}

function identityMap(headers: readonly SafetensorsHeader[]): Map<string, FileIdentity> {
  const out = new Map<string, FileIdentity>();
  for (const h of headers) if (h.identity) out.set(h.file, h.identity);
  return out;
}

async function readWeightMap(file: string): Promise<Map<string, string>> {
  const parsed = await readJsonFile(file);
  const weightMap = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['weight_map'] : undefined;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new ModelLoadError('MODEL_BAD_CONFIG', `${file}: field 'weight_map': expected an object mapping tensor names to shard files`, { file });
  }
  const out = new Map<string, string>();
  for (const [key, shard] of Object.entries(weightMap)) {
    if (typeof shard !== 'string' || shard.length === 0 || shard.includes('/') || shard.includes('\\')) {
      throw new ModelLoadError('MODEL_BAD_CONFIG', `${file}: field 'weight_map.${key}': expected a shard file name, got ${JSON.stringify(shard)}`, { file });
    }
    out.set(key, shard);
  }
  return out;
}
