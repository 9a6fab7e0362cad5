// Files that are not what they claim: header lengths a few bytes off, gaps in the data, special files.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ModelLoadError } from '../lib/errors.js';
import { readSafetensorsHeader, resolveModel, type ModelProblem } from '../lib/model/index.js';
import { TINY_DIFFUSERS, linkTree, readRawTensors, tempDir, removeTempDirs, type RawTensor } from './model-helpers.js';

afterAll(removeTempDirs);

/** A safetensors file whose JSON is padded with `pad` spaces and whose stated length is `lengthDelta` off. */
function writePadded(file: string, tensors: RawTensor[], pad: number, lengthDelta: number, edit?: (h: Record<string, { data_offsets: number[] }>) => void): void {
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> = {};
  let offset = 0;
  for (const t of tensors) {
    header[t.key] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.length] };
    offset += t.data.length;
  }
  edit?.(header);
  const json = Buffer.from(JSON.stringify(header) + ' '.repeat(pad), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length + lengthDelta));
  writeFileSync(file, Buffer.concat([len, json, ...tensors.map((t) => t.data)]));
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelLoadError);
  return err as ModelLoadError;
}

function mkfifo(file: string): void {
  execFileSync('mkfifo', [file]);
}

const VAE_TENSORS = readRawTensors(path.join(TINY_DIFFUSERS, 'vae', 'diffusion_pytorch_model.safetensors'));

describe('safetensors layout is exact', () => {
  it('accepts trailing spaces after the JSON', async () => {
    const file = path.join(tempDir('pad'), 'ok.safetensors');
    writePadded(file, VAE_TENSORS, 7, 0);
    expect((await readSafetensorsHeader(file)).tensors.length).toBe(VAE_TENSORS.length);
  });

  it.each([1, 2, 3, 4, 5])('refuses a header length %i bytes too small', async (n) => {
    const file = path.join(tempDir('short'), 'x.safetensors');
    writePadded(file, VAE_TENSORS, 7, -n);
    const e = await codeOf(readSafetensorsHeader(file));
    expect(e.code).toBe('SAFETENSORS_BAD_OFFSETS');
    expect(e.message).toContain(file);
    expect(e.message).toContain('header length');
  });

  it('refuses a header length too large and JSON followed by something else than spaces', async () => {
    const file = path.join(tempDir('long'), 'x.safetensors');
    writePadded(file, VAE_TENSORS, 0, 3);
    expect((await codeOf(readSafetensorsHeader(file))).code).toMatch(/^SAFETENSORS_/);
    const json = Buffer.from('{}\n\n');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(file, Buffer.concat([len, json]));
    expect((await codeOf(readSafetensorsHeader(file))).message).toContain('only spaces');
  });

  it('refuses a gap between tensors and bytes after the last one', async () => {
    const file = path.join(tempDir('gap'), 'x.safetensors');
    const [a, b, ...rest] = VAE_TENSORS;
    writePadded(file, [a!, { ...b!, data: Buffer.concat([Buffer.alloc(8), b!.data]) }, ...rest], 0, 0, (h) => {
      const e = h[b!.key]!;
      e.data_offsets = [e.data_offsets[0]! + 8, e.data_offsets[1]!];
    });
    const gap = await codeOf(readSafetensorsHeader(file));
    expect(gap.code).toBe('SAFETENSORS_BAD_OFFSETS');
    expect(gap.message).toContain('gap');
    writePadded(file, VAE_TENSORS, 0, 0);
    appendFileSync(file, Buffer.alloc(16));
    const tail = await codeOf(readSafetensorsHeader(file));
    expect(tail.message).toContain('16 more bytes');
  });
});

describe('special files are refused before reading', () => {
  function problem(problems: ModelProblem[], code: string): ModelProblem {
    const p = problems.find((x) => x.code === code);
    expect(p, JSON.stringify(problems)).toBeDefined();
    return p!;
  }

  it('a FIFO as the weight file does not block', async () => {
    const root = path.join(tempDir('fifo'), 'model');
    linkTree(TINY_DIFFUSERS, root);
    const weights = path.join(root, 'transformer', 'diffusion_pytorch_model.safetensors');
    rmSync(weights);
    mkfifo(weights);
    const p = problem((await resolveModel(root)).problems, 'MODEL_BAD_FILE');
    expect(p.message).toContain(weights);
    expect(p.message).toContain('FIFO');
  });

  it('a folder or a device in place of a weight file', async () => {
    const root = path.join(tempDir('dir'), 'model');
    linkTree(TINY_DIFFUSERS, root);
    const weights = path.join(root, 'vae', 'diffusion_pytorch_model.safetensors');
    rmSync(weights);
    mkdirSync(weights);
    expect(problem((await resolveModel(root)).problems, 'MODEL_BAD_FILE').message).toContain('folder');
    rmSync(weights, { recursive: true });
    symlinkSync('/dev/zero', weights);
    expect(problem((await resolveModel(root)).problems, 'MODEL_BAD_FILE').message).toContain('device');
  });

  it('a FIFO as a config file, a shard index, or a tokenizer file', async () => {
    for (const rel of ['transformer/config.json', 'vae/config.json', 'scheduler/scheduler_config.json', 'tokenizer/tokenizer_config.json', 'tokenizer/chat_template.jinja', 'tokenizer/tokenizer.json']) {
      const root = path.join(tempDir('fifo-config'), 'model');
      linkTree(TINY_DIFFUSERS, root);
      rmSync(path.join(root, rel));
      mkfifo(path.join(root, rel));
      const p = problem((await resolveModel(root)).problems, 'MODEL_BAD_FILE');
      expect(p.message, rel).toContain(path.join(root, rel));
    }
    const root = path.join(tempDir('fifo-index'), 'model');
    linkTree(TINY_DIFFUSERS, root);
    mkfifo(path.join(root, 'transformer', 'diffusion_pytorch_model.safetensors.index.json'));
    expect(problem((await resolveModel(root)).problems, 'MODEL_BAD_FILE').message).toContain('index.json');
  });

  it('an oversized config file is refused without reading it', async () => {
    const root = path.join(tempDir('big-config'), 'model');
    linkTree(TINY_DIFFUSERS, root);
    const file = path.join(root, 'vae', 'config.json');
    rmSync(file);
    const big = readFileSync(path.join(TINY_DIFFUSERS, 'vae', 'config.json'));
    writeFileSync(file, big);
    execFileSync('truncate', ['-s', String(64 * 1024 * 1024), file]); // sparse: no disk used
    expect(problem((await resolveModel(root)).problems, 'MODEL_BAD_FILE').message).toContain(file);
  });
});
