/** Golden image-to-image cases (test/fixtures/golden/img2img). */
import { readFileSync } from 'node:fs';
import { golden } from './golden-manifest.js';

export interface Img2ImgCase {
  prompt: string;
  negative_prompt: string;
  width: number;
  height: number;
  steps: number;
  guidance: number;
  seed: number;
  strength: number;
  t_start: number;
  denoising_steps: number;
  sigma_start: number;
}

const manifest = JSON.parse(readFileSync(golden('manifest.json'), 'utf8')) as { cases: Record<string, unknown> };

export function img2imgCase(name: string): Img2ImgCase {
  const c = manifest.cases[`img2img/${name}`];
  if (c === undefined) throw new Error(`no golden case img2img/${name}`);
  return c as Img2ImgCase;
}
