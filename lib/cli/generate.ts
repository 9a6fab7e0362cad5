/**
 * `ovis-image generate`: prompt → image file(s) (PNG or JPEG, by the extension of -o). Progress goes to
 * stderr (a bar on a terminal, a line per step otherwise); the written paths and their seeds go to stdout,
 * one per line. Every flag and the output files are checked before the model loads.
 */
import type { Command } from 'commander';
import { OvisImage } from '../ovis-image.js';
import type { LoadOptions } from '../pipeline/options.js';
import type { GenerateTimings } from '../pipeline/public-result.js';
import type { ModelSource } from '../pipeline/load-parts.js';
import { MAX_SEED, randomSeed } from '../pipeline/rng.js';
import { parseGenerateFlags, type GenerateFlags, type GeneratePlan } from './generate-flags.js';
import { encodeImage } from './image-format.js';
import { withInterrupt } from './interrupt.js';
import { addModelOptions, localModel, modelFromOptions, type ModelOptionValues } from './model-options.js';
import { prepareOutputs, writeOutput, type OutputTarget } from './output-file.js';
import { createDownloadReporter, createLoadProgress, createStepProgress } from './progress.js';
import { warnIfPromptTooLong } from './prompt-check.js';
import { addImageFlags, preparePreview, previewFileWriter } from './generate-extras.js';
import { addMemoryFlags } from './memory-flags.js';
import { MAX_COUNT as MAX_BATCH } from '../pipeline/options-extra.js';

export { outputPaths } from './output-file.js';

export interface GenerateCommandOptions extends ModelOptionValues, GenerateFlags {
  output: string;
  quiet?: boolean;
  verbose?: boolean;
  timings?: boolean;
}

/** What the command uses from the outside world; tests swap these. */
export interface GenerateCommandDeps {
  loadModel: (model: ModelSource, options: LoadOptions) => Promise<OvisImage>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
}

const defaultDeps = (): GenerateCommandDeps => ({
  loadModel: (model, options) => OvisImage.load(model, options),
  stdout: process.stdout,
  stderr: process.stderr,
});

export function registerGenerateCommand(program: Command, deps: Partial<GenerateCommandDeps> = {}): Command {
  const command = program.command('generate').description('generate images from a text prompt and write them as PNG or JPEG files');
  return addMemoryFlags(addImageFlags(addModelOptions(command)))
    .requiredOption('-p, --prompt <text>', 'what to draw')
    .option('-n, --negative <text>', 'negative prompt (default: empty)')
    .option('--width <px>', 'image width, a multiple of 16 (default: 1024)')
    .option('--height <px>', 'image height, a multiple of 16 (default: 1024)')
    .option('--steps <n>', 'denoising steps (default: 50)')
    .option('--guidance <g>', 'classifier-free guidance scale; <= 1 turns it off (default: 5.0)')
    .option('--seed <s>', 'seed in [0, 2^64 - 1]; image i of --count uses seed + i (default: random)')
    .option('--noise <file>', 'safetensors file with one tensor "noise" [1, 16, H/8, W/8] used instead of a seed')
    .option('--count <k>', 'how many images, denoised in batches of up to 64 (default: 1)')
    .option('-o, --output <file>', 'output image: .png or .jpg/.jpeg; with --count K: name-1.png ... name-K.png', 'ovis-image.png')
    .option('--device <device>', 'auto, cpu, cuda or cuda:N (default: auto)')
    .option('--threads <n>', 'CPU threads, 0 = all cores (default: 0)')
    .option('--precision <p>', 'bf16 or fp32 (default: bf16 on CUDA, fp32 on the CPU; bf16 on the CPU needs AVX512-BF16)')
    .option('--keep-text-encoder', 'keep the text encoder on the device between images (default: on the CPU only)')
    .option('--no-keep-text-encoder', 'free the text encoder after the prompts are encoded, reloading it for the next image')
    .option('--weights <type>', 'MMDiT weights: bf16 (as stored) or quantized while loading: q8_0, q6_k, q5_k, q4_k, q4_0 (default: bf16)')
    .option('--text-encoder-weights <type>', 'text encoder weights, as --weights (default: bf16)')
    .option('-q, --quiet', 'no progress output on stderr')
    .option('-v, --verbose', 'also print each loading phase and which addon and device were chosen, and why')
    .option('--timings', 'print per-stage times (ms) as one JSON line per batch on stderr, even with --quiet')
    .action(async (opts: GenerateCommandOptions) => {
      await runGenerate(opts, modelFromOptions(opts), { ...defaultDeps(), ...deps });
    });
}

export async function runGenerate(opts: GenerateCommandOptions, modelSource: ModelSource, deps: GenerateCommandDeps): Promise<void> {
  // Usage errors and unwritable outputs fail now, not after minutes of loading and denoising.
  const plan = await parseGenerateFlags(opts, randomSeed);
  const outputs = await prepareOutputs(opts.output, plan.count);
  const preview = await preparePreview(opts.preview);
  await withInterrupt(async (signal) => {
    const loadStarted = performance.now();
    const model = await loadModel(opts, modelSource, plan, deps, signal);
    const timings = opts.timings === true ? { stderr: deps.stderr, loadMs: performance.now() - loadStarted } : undefined;
    try {
      await generateAll(model, plan, { outputs, preview }, opts.quiet === true, deps, signal, timings);
    } finally {
      await model.dispose();
    }
  });
}

/** Fetches a Hub model (into --cache-dir), warns about a too long prompt, then loads. */
async function loadModel(opts: GenerateCommandOptions, source: ModelSource, plan: GeneratePlan, deps: GenerateCommandDeps, signal: AbortSignal): Promise<OvisImage> {
  const quiet = opts.quiet === true;
  const download = createDownloadReporter(deps.stderr, quiet);
  let local: ModelSource;
  try {
    local = await localModel(source, { cacheDir: opts.cacheDir, signal, onProgress: download.onProgress });
  } finally {
    download.stop();
  }
  await warnIfPromptTooLong(local, plan.image, deps.stderr);
  if (!quiet) deps.stderr.write(`loading ${typeof source === 'string' ? source : 'the model'} ...\n`);
  const progress = createLoadProgress(deps.stderr, quiet, opts.verbose === true);
  try {
    const model = await deps.loadModel(local, { ...plan.load, signal, onProgress: progress.onProgress });
    if (!quiet) deps.stderr.write(`model ready on ${model.backend}\n`);
    return model;
  } finally {
    progress.stop();
  }
}

/** The images of --count in batches of up to MAX_BATCH (one generate call each: one MMDiT batch per step). */
async function generateAll(
  model: OvisImage,
  plan: GeneratePlan,
  files: { outputs: OutputTarget[]; preview: OutputTarget | undefined },
  quiet: boolean,
  deps: GenerateCommandDeps,
  signal: AbortSignal,
  timings?: { stderr: NodeJS.WritableStream; loadMs: number },
): Promise<void> {
  for (let start = 0; start < plan.count; start += MAX_BATCH) {
    const count = Math.min(MAX_BATCH, plan.count - start);
    const seed = plan.firstSeed === undefined ? undefined : (plan.firstSeed + BigInt(start)) & MAX_SEED;
    const label = count > 1 ? `${start + 1}-${start + count}` : `${start + 1}`;
    const progress = createStepProgress(deps.stderr, quiet, plan.count > 1 ? `[${label}/${plan.count}] ` : '');
    const previews = previewFileWriter(files.preview, progress.onStep);
    let results;
    try {
      results = await model.generate({ ...plan.image, ...(seed !== undefined ? { seed } : {}), count, signal, onStep: previews.onStep });
    } finally {
      progress.stop();
      await previews.flush();
    }
    if (timings && results.length > 0) timings.stderr.write(timingsLine(timings.loadMs, plan.image.steps, results[0]!.timings));
    for (const [i, result] of results.entries()) {
      const out = files.outputs[start + i]!;
      const bytes = await encodeImage(result, out.format);
      signal.throwIfAborted();
      await writeOutput(out, bytes);
      deps.stdout.write(`${out.shown}\tseed=${result.seed === null ? 'custom-noise' : String(result.seed)}\n`);
    }
  }
}

/**
 * `--timings`: one JSON line with the engine's stage times of a batch (the same for each image in it); the
 * load time is the first batch's wait for the model. Benchmarks (bench/sdcpp) read it.
 */
export function timingsLine(loadMs: number, steps: number | undefined, t: GenerateTimings): string {
  const round = (ms: number): number => Math.round(ms * 10) / 10;
  const perStep = steps !== undefined && steps > 0 ? t.denoiseMs / steps : undefined;
  const json = {
    loadMs: round(loadMs),
    textMs: round(t.textMs),
    denoiseMs: round(t.denoiseMs),
    ...(perStep !== undefined ? { stepMs: round(perStep) } : {}),
    decodeMs: round(t.decodeMs),
    totalMs: round(t.totalMs),
  };
  return `timings ${JSON.stringify(json)}\n`;
}
