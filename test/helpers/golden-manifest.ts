/** The golden fixtures' manifest: parameters of each whole-pipeline case (test/fixtures/golden). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface PipelineCase {
  prompt: string;
  negative_prompt: string;
  height: number;
  width: number;
  steps: number;
  guidance: number;
  seed: number;
}

const manifestPath = fileURLToPath(new URL('../fixtures/golden/manifest.json', import.meta.url));
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { cases: Record<string, unknown> };

/** The parameters of golden case `pipeline/<name>` (p1, p2, p3). */
export function pipelineCase(name: string): PipelineCase {
  const c = manifest.cases[`pipeline/${name}`];
  if (c === undefined) throw new Error(`no golden case pipeline/${name}`);
  return c as PipelineCase;
}
