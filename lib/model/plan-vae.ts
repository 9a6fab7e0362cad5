import { affineNorm, conv, linear, type TensorSpec } from './plan-spec.js';
import type { VaeConfig, WeightFormat } from './types.js';

/** Stored key names of the two VAE key formats (diffusers AutoencoderKL vs BFL/LDM). */
interface VaeKeys {
  midRes(side: string, i: number): string;
  midAttn(side: string): string;
  attnNorm: string;
  attnQkv: [string, string, string];
  attnOut: string;
  conv1x1Attn: boolean;
  upRes(i: number, j: number, n: number): string;
  upsample(i: number, n: number): string;
  downRes(i: number, j: number): string;
  downsample(i: number): string;
  shortcut: string;
  normOut(side: string): string;
}

const DIFFUSERS: VaeKeys = {
  midRes: (side, i) => `${side}.mid_block.resnets.${i}`,
  midAttn: (side) => `${side}.mid_block.attentions.0`,
  attnNorm: 'group_norm',
  attnQkv: ['to_q', 'to_k', 'to_v'],
  attnOut: 'to_out.0',
  conv1x1Attn: false,
  upRes: (i, j) => `decoder.up_blocks.${i}.resnets.${j}`,
  upsample: (i) => `decoder.up_blocks.${i}.upsamplers.0.conv`,
  downRes: (i, j) => `encoder.down_blocks.${i}.resnets.${j}`,
  downsample: (i) => `encoder.down_blocks.${i}.downsamplers.0.conv`,
  shortcut: 'conv_shortcut',
  normOut: (side) => `${side}.conv_norm_out`,
};

// original decoder.up.N counts from the highest resolution: canonical up.i = original up.(n-1-i)
const ORIGINAL: VaeKeys = {
  midRes: (side, i) => `${side}.mid.block_${i + 1}`,
  midAttn: (side) => `${side}.mid.attn_1`,
  attnNorm: 'norm',
  attnQkv: ['q', 'k', 'v'],
  attnOut: 'proj_out',
  conv1x1Attn: true,
  upRes: (i, j, n) => `decoder.up.${n - 1 - i}.block.${j}`,
  upsample: (i, n) => `decoder.up.${n - 1 - i}.upsample.conv`,
  downRes: (i, j) => `encoder.down.${i}.block.${j}`,
  downsample: (i) => `encoder.down.${i}.downsample.conv`,
  shortcut: 'nin_shortcut',
  normOut: (side) => `${side}.norm_out`,
};

function resnet(name: string, key: string, inC: number, outC: number, keys: VaeKeys): TensorSpec[] {
  return [
    ...affineNorm(`${name}.norm1`, `${key}.norm1`, inC),
    ...conv(`${name}.conv1`, `${key}.conv1`, outC, inC, 3),
    ...affineNorm(`${name}.norm2`, `${key}.norm2`, outC),
    ...conv(`${name}.conv2`, `${key}.conv2`, outC, outC, 3),
    ...(inC !== outC ? conv(`${name}.shortcut`, `${key}.${keys.shortcut}`, outC, inC, 1) : []),
  ];
}

function mid(name: string, side: string, c: number, attention: boolean, keys: VaeKeys): TensorSpec[] {
  const specs = [...resnet(`${name}.res.0`, keys.midRes(side, 0), c, c, keys)];
  if (attention) {
    const a = keys.midAttn(side);
    const conv1x1 = keys.conv1x1Attn;
    specs.push(
      ...affineNorm(`${name}.attn.norm`, `${a}.${keys.attnNorm}`, c),
      ...linear(`${name}.attn.qkv`, c, keys.attnQkv.map((p) => ({ key: `${a}.${p}`, out: c, conv1x1 }))),
      ...linear(`${name}.attn.out`, c, [{ key: `${a}.${keys.attnOut}`, out: c, conv1x1 }]),
    );
  }
  specs.push(...resnet(`${name}.res.1`, keys.midRes(side, 1), c, c, keys));
  return specs;
}

/** Canonical decoder tensors (docs/WEIGHTS.md "VAE"), up blocks lowest resolution first. */
export function vaeDecoderSpecs(c: VaeConfig, format: WeightFormat): TensorSpec[] {
  const keys = format === 'original' ? ORIGINAL : DIFFUSERS;
  const channels = [...c.blockOutChannels].reverse();
  const n = channels.length;
  const top = channels[0] ?? 0;
  const specs = [...conv('vae.dec.conv_in', 'decoder.conv_in', top, c.latentChannels, 3), ...mid('vae.dec.mid', 'decoder', top, c.midAttention, keys)];
  let inC = top;
  channels.forEach((outC, i) => {
    for (let j = 0; j <= c.layersPerBlock; j++) {
      specs.push(...resnet(`vae.dec.up.${i}.res.${j}`, keys.upRes(i, j, n), j === 0 ? inC : outC, outC, keys));
    }
    if (i < n - 1) specs.push(...conv(`vae.dec.up.${i}.upsample`, keys.upsample(i, n), outC, outC, 3));
    inC = outC;
  });
  const bottom = c.blockOutChannels[0] ?? 0;
  specs.push(...affineNorm('vae.dec.norm_out', keys.normOut('decoder'), bottom), ...conv('vae.dec.conv_out', 'decoder.conv_out', c.outChannels, bottom, 3));
  return specs;
}

/** Canonical encoder tensors; optional in a plan (decode-only checkpoints have none). */
export function vaeEncoderSpecs(c: VaeConfig, format: WeightFormat): TensorSpec[] {
  const keys = format === 'original' ? ORIGINAL : DIFFUSERS;
  const channels = c.blockOutChannels;
  const n = channels.length;
  const first = channels[0] ?? 0;
  const top = channels[n - 1] ?? 0;
  const specs = [...conv('vae.enc.conv_in', 'encoder.conv_in', first, c.inChannels, 3)];
  let inC = first;
  channels.forEach((outC, i) => {
    for (let j = 0; j < c.layersPerBlock; j++) {
      specs.push(...resnet(`vae.enc.down.${i}.res.${j}`, keys.downRes(i, j), j === 0 ? inC : outC, outC, keys));
    }
    if (i < n - 1) specs.push(...conv(`vae.enc.down.${i}.downsample`, keys.downsample(i), outC, outC, 3));
    inC = outC;
  });
  specs.push(
    ...mid('vae.enc.mid', 'encoder', top, c.midAttention, keys),
    ...affineNorm('vae.enc.norm_out', keys.normOut('encoder'), top),
    ...conv('vae.enc.conv_out', 'encoder.conv_out', 2 * c.latentChannels, top, 3),
  );
  return specs;
}
