import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { OFFICIAL_TEXT_ENCODER_DIR, type RepoLayout } from './file-selection.js';

/** What a cached snapshot lacks, judged from the files on disk alone (no network). */
export interface SnapshotReport {
  layout: RepoLayout | undefined;
  missing: string[]; // repo paths (a pattern such as `vae/*.safetensors` when no weight file at all)
  corrupt: string[]; // present but truncated / unparsable
}

/** Size of a regular file behind `p` (following the snapshot symlink), or undefined if absent or dangling. */
async function fileSize(p: string): Promise<number | undefined> {
  try {
    const s = await stat(p);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

async function listDir(p: string): Promise<string[]> {
  try {
    return await readdir(p);
  } catch {
    return [];
  }
}

/** A safetensors file is whole when its size is 8 + header + the end of its last tensor. */
async function isSafetensorsWhole(p: string, size: number): Promise<boolean> {
  if (size < 8) return false;
  const fh = await open(p, 'r');
  try {
    const lenBuf = Buffer.alloc(8);
    await fh.read(lenBuf, 0, 8, 0);
    const headerLen = Number(lenBuf.readBigUInt64LE(0));
    if (headerLen > size - 8 || headerLen > 100_000_000) return false;
    const header = Buffer.alloc(headerLen);
    await fh.read(header, 0, headerLen, 8);
    const json = JSON.parse(header.toString('utf8')) as Record<string, { data_offsets?: [number, number] }>;
    let end = 0;
    for (const [name, entry] of Object.entries(json)) {
      if (name === '__metadata__') continue;
      end = Math.max(end, entry.data_offsets?.[1] ?? 0);
    }
    return size === 8 + headerLen + end;
  } catch {
    return false;
  } finally {
    await fh.close();
  }
}

/** Small JSON is parsed; a big one (tokenizer.json is ~11 MB, slow to parse) only has its two ends checked. */
async function isJsonWhole(p: string, size: number): Promise<boolean> {
  try {
    if (size <= 1_000_000) {
      JSON.parse(await readFile(p, 'utf8'));
      return true;
    }
    const fh = await open(p, 'r');
    try {
      const head = Buffer.alloc(64);
      const tail = Buffer.alloc(64);
      await fh.read(head, 0, 64, 0);
      await fh.read(tail, 0, 64, size - 64);
      return /^\s*[{[]/.test(head.toString('latin1')) && /[}\]]\s*$/.test(tail.toString('latin1'));
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

class Checker {
  readonly missing: string[] = [];
  readonly corrupt: string[] = [];
  constructor(private readonly dir: string) {}

  /** Records `repoPath` as missing or corrupt; returns true when it is present and whole. */
  async require(repoPath: string): Promise<boolean> {
    const p = join(this.dir, ...repoPath.split('/'));
    const size = await fileSize(p);
    if (size === undefined) {
      this.missing.push(repoPath);
      return false;
    }
    const whole = repoPath.endsWith('.safetensors')
      ? await isSafetensorsWhole(p, size)
      : repoPath.endsWith('.json')
        ? await isJsonWhole(p, size)
        : true;
    if (!whole) this.corrupt.push(repoPath);
    return whole;
  }

  /** config.json plus the weights of one folder: every shard an index names, or its *.safetensors files. */
  async requireWeights(folder: string, defaultName: string): Promise<void> {
    const prefix = folder === '' ? '' : `${folder}/`;
    const names = await listDir(join(this.dir, folder));
    const index = names.find((n) => n.endsWith('.safetensors.index.json'));
    if (index) {
      if (!(await this.require(prefix + index))) return;
      const parsed = JSON.parse(await readFile(join(this.dir, folder, index), 'utf8')) as {
        weight_map?: Record<string, string>;
      };
      for (const shard of new Set(Object.values(parsed.weight_map ?? {}))) await this.require(prefix + shard);
      return;
    }
    const weights = names.filter((n) => n.endsWith('.safetensors'));
    if (weights.length === 0) {
      // Nothing on disk says the real name: give the usual one and mention the sharded form.
      this.missing.push(`${prefix}${defaultName} (or ${prefix}${defaultName}.index.json and its shards)`);
    }
    for (const w of weights) await this.require(prefix + w);
  }
}

/** Checks that a snapshot folder holds everything the engine needs for its layout. */
export async function checkSnapshot(dir: string): Promise<SnapshotReport> {
  const c = new Checker(dir);
  const has = async (p: string): Promise<boolean> => (await fileSize(join(dir, p))) !== undefined;
  if (await has('model_index.json')) {
    await c.require('model_index.json');
    await c.require('scheduler/scheduler_config.json');
    await c.require('tokenizer/tokenizer.json');
    await c.require('tokenizer/tokenizer_config.json');
    for (const comp of ['text_encoder', 'transformer', 'vae']) {
      await c.require(`${comp}/config.json`);
      await c.requireWeights(comp, comp === 'text_encoder' ? 'model.safetensors' : 'diffusion_pytorch_model.safetensors');
    }
    return { layout: 'diffusers', missing: c.missing, corrupt: c.corrupt };
  }
  if ((await has('ovis_image.safetensors')) || (await has('ae.safetensors')) || (await listDir(join(dir, OFFICIAL_TEXT_ENCODER_DIR))).length > 0) {
    await c.require('ovis_image.safetensors');
    await c.require('ae.safetensors');
    const te = OFFICIAL_TEXT_ENCODER_DIR;
    await c.require(`${te}/config.json`);
    await c.require(`${te}/tokenizer.json`);
    await c.require(`${te}/tokenizer_config.json`);
    await c.requireWeights(te, 'model.safetensors');
    return { layout: 'official', missing: c.missing, corrupt: c.corrupt };
  }
  return { layout: undefined, missing: ['model_index.json (or ovis_image.safetensors)'], corrupt: [] };
}

export function isSnapshotComplete(r: SnapshotReport): boolean {
  return r.layout !== undefined && r.missing.length === 0 && r.corrupt.length === 0;
}
