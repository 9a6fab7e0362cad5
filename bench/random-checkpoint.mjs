#!/usr/bin/env node
// Writes a full-size Ovis-Image checkpoint with random bf16 weights in the real file layout (diffusers
// folders with sharded safetensors, or the official single files), for memory and speed measurements
// that need the real loading path without downloading 20 GB. The tensor list comes from the planner's
// specs (lib/model/plan-*.ts), so it is the list the engine reads. Needs `npm run build` first.
//
// Usage: node bench/random-checkpoint.mjs <out-dir> [--layout diffusers|original] [--seed N] [--shard-gb G]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => import(path.join(root, 'dist', p));
const { ditSpecs } = await dist('model/plan-dit.js');
const { textEncoderSpecs } = await dist('model/plan-te.js');
const { vaeDecoderSpecs, vaeEncoderSpecs } = await dist('model/plan-vae.js');
const { RELEASED_DIT, RELEASED_TEXT_ENCODER, RELEASED_VAE } = await dist('model/defaults.js');

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { layout: { type: 'string', default: 'diffusers' }, seed: { type: 'string', default: '1' }, 'shard-gb': { type: 'string', default: '5' } },
});
if (positionals.length !== 1 || !['diffusers', 'original'].includes(values.layout)) {
  console.error('usage: node bench/random-checkpoint.mjs <out-dir> [--layout diffusers|original] [--seed N] [--shard-gb G]');
  process.exit(2);
}
const out = path.resolve(positionals[0]);
const layout = values.layout;
const shardBytes = Number(values['shard-gb']) * 2 ** 30;
const tiny = path.join(root, 'test/fixtures/golden', layout === 'diffusers' ? 'tiny-diffusers' : 'tiny-original');

// Stored keys and shapes of a component, each once (a stored tensor may feed two canonical ones).
function storedTensors(specs, prefix = '') {
  const byKey = new Map();
  for (const spec of specs) for (const p of spec.pieces) byKey.set(prefix + p.key, p.shape);
  return [...byKey].map(([key, shape]) => ({ key, shape }));
}

// The benchmarks' random-weight rule (bench/common/weight_init.h): activations stay O(1) through the
// layers: matrices and convolutions N(0, 1/fan_in), embeddings N(0, 1), norm scales 1 + N(0, 0.05²),
// biases N(0, 0.02²). Uniform values with those means and deviations.
function init(key, shape) {
  if (shape.length === 1) return key.endsWith('.bias') ? { mean: 0, std: 0.02 } : { mean: 1, std: 0.05 };
  if (key.endsWith('embed_tokens.weight')) return { mean: 0, std: 1 };
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return { mean: 0, std: 1 / Math.sqrt(fanIn) };
}

// A pool of unit-variance uniform values from a seeded xorshift32, read at random offsets per chunk.
const POOL = 1 << 22;
let state = (Number(values.seed) >>> 0) || 1;
const next = () => {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>>= 0);
};
const pool = new Float32Array(POOL * 2);
for (let i = 0; i < pool.length; i++) pool[i] = (next() / 2 ** 32 - 0.5) * 2 * Math.sqrt(3);

const CHUNK = 1 << 20; // elements per write
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const chunk = new Uint16Array(CHUNK);

function writeTensor(fd, { key, shape }) {
  const { mean, std } = init(key, shape);
  let left = shape.reduce((a, b) => a * b, 1);
  while (left > 0) {
    const n = Math.min(left, CHUNK);
    const off = next() % POOL;
    for (let i = 0; i < n; i++) {
      f32[0] = mean + std * pool[off + i];
      const u = u32[0];
      chunk[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round to nearest even
    }
    fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 2));
    left -= n;
  }
}

function writeSafetensors(file, tensors) {
  const header = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    header[t.key] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = fs.openSync(file, 'w');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  fs.writeSync(fd, len);
  fs.writeSync(fd, json);
  for (const t of tensors) writeTensor(fd, t);
  fs.closeSync(fd);
  console.log(`${path.relative(out, file)}: ${tensors.length} tensors, ${(offset / 1e9).toFixed(2)} GB`);
  return offset;
}

// Splits into shards of at most shardBytes and writes `<stem>.safetensors.index.json` (the hub's form).
function writeSharded(dir, stem, tensors) {
  const shards = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    if (size + bytes > shardBytes && shards.at(-1).length) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1).push(t);
    size += bytes;
  }
  if (shards.length === 1) return writeSafetensors(path.join(dir, `${stem}.safetensors`), tensors);
  const weightMap = {};
  let total = 0;
  shards.forEach((shard, i) => {
    const name = `${stem}-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    total += writeSafetensors(path.join(dir, name), shard);
    for (const t of shard) weightMap[t.key] = name;
  });
  fs.writeFileSync(path.join(dir, `${stem}.safetensors.index.json`), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));
const writeJson = (p, v) => fs.writeFileSync(p, JSON.stringify(v, null, 2));
const D = RELEASED_DIT;
const T = RELEASED_TEXT_ENCODER;
const V = RELEASED_VAE;
const qwen3 = (c) => ({
  ...c, hidden_size: T.hidden, num_hidden_layers: T.layers, num_attention_heads: T.heads, num_key_value_heads: T.kvHeads,
  head_dim: T.headDim, intermediate_size: T.intermediate, vocab_size: T.vocab, layer_types: Array(T.layers).fill('full_attention'),
});
const vaeTensors = (format) => storedTensors([...vaeDecoderSpecs(V, format), ...vaeEncoderSpecs(V, format)]);

fs.rmSync(out, { recursive: true, force: true });
fs.cpSync(tiny, out, { recursive: true, filter: (src) => !src.endsWith('.safetensors') });
if (layout === 'diffusers') {
  const tc = readJson(path.join(out, 'transformer/config.json'));
  writeJson(path.join(out, 'transformer/config.json'), {
    ...tc, attention_head_dim: D.headDim, axes_dims_rope: D.axesDims, in_channels: D.inChannels, out_channels: D.outChannels,
    joint_attention_dim: D.contextDim, num_attention_heads: D.numHeads, num_layers: D.numDouble, num_single_layers: D.numSingle,
  });
  writeJson(path.join(out, 'text_encoder/config.json'), qwen3(readJson(path.join(out, 'text_encoder/config.json'))));
  writeJson(path.join(out, 'vae/config.json'), { ...readJson(path.join(out, 'vae/config.json')), block_out_channels: V.blockOutChannels });
  writeSharded(path.join(out, 'transformer'), 'diffusion_pytorch_model', storedTensors(ditSpecs(D, 'diffusers')));
  writeSharded(path.join(out, 'text_encoder'), 'model', storedTensors(textEncoderSpecs(T)));
  writeSafetensors(path.join(out, 'vae/diffusion_pytorch_model.safetensors'), vaeTensors('diffusers'));
} else {
  const llmDir = path.join(out, 'Ovis2.5-2B');
  const oc = readJson(path.join(llmDir, 'config.json'));
  writeJson(path.join(llmDir, 'config.json'), { ...oc, hidden_size: T.hidden, llm_config: qwen3(oc.llm_config) });
  writeSafetensors(path.join(out, 'ovis_image.safetensors'), storedTensors(ditSpecs(D, 'original')));
  writeSafetensors(path.join(out, 'ae.safetensors'), vaeTensors('original'));
  writeSafetensors(path.join(llmDir, 'model.safetensors'), storedTensors(textEncoderSpecs(T), 'llm.model.'));
}
console.log(`wrote ${out} (${layout} layout, random bf16 weights, released shapes)`);
