/**
 * `ovis-image generate`: prompt → PNG file(s). Progress goes to stderr (a bar on a terminal, a line per
 * step otherwise); the written paths and their seeds go to stdout, one per line.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { OvisError } from '../errors.js';
import { OvisImage } from '../ovis-image.js';
import type { LoadOptions, LoadProgress, StepEvent } from '../pipeline/options.js';
import { createDownloadProgressBar } from './download.js';
import type { ModelSource } from '../pipeline/load-parts.js';
import { addModelOptions, modelFromOptions, type ModelOptionValues } from './model-options.js';
import { LATENT_CHANNELS, parseGenerateOptions } from '../pipeline/options.js';
import { MAX_SEED, randomSeed } from '../pipeline/rng.js';
import { readTensorFile } from '../pipeline/tensor-file.js';

export interface GenerateCommandOptions extends ModelOptionValues {
  prompt: string;
  negative?: string;
  width?: string;
  height?: string;
  steps?: string;
  guidance?: string;
  seed?: string;
  noise?: string;
  count?: string;
  output: string;
  device?: string;
  threads?: string;
  precision?: string;
  keepTextEncoder?: boolean;
  quiet?: boolean;
  verbose?: boolean;
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
  const command = program.command('generate').description('generate images from a text prompt and write them as PNG files');
  return addModelOptions(command)
    .requiredOption('-p, --prompt <text>', 'what to draw')
    .option('-n, --negative <text>', 'negative prompt (default: empty)')
    .option('--width <px>', 'image width, a multiple of 16 (default: 1024)')
    .option('--height <px>', 'image height, a multiple of 16 (default: 1024)')
    .option('--steps <n>', 'denoising steps (default: 50)')
    .option('--guidance <g>', 'classifier-free guidance scale; <= 1 turns it off (default: 5.0)')
    .option('--seed <s>', 'seed in [0, 2^64 - 1]; image i of --count uses seed + i (default: random)')
    .option('--noise <file>', 'safetensors file with one tensor "noise" [1, 16, H/8, W/8] used instead of a seed')
    .option('--count <k>', 'how many images (default: 1)')
    .option('-o, --output <file>', 'output PNG; with --count K: name-1.png ... name-K.png', 'ovis-image.png')
    .option('--device <device>', 'auto, cpu, cuda or cuda:N (default: auto)')
    .option('--threads <n>', 'CPU threads, 0 = all cores (default: 0)')
    .option('--precision <p>', 'bf16 or fp32 (CUDA activations; default: bf16)')
    .option('--keep-text-encoder', 'keep the text encoder on the device between images (default: on the CPU only)')
    .option('--no-keep-text-encoder', 'free the text encoder after the prompts are encoded, reloading it for the next image')
    .option('-q, --quiet', 'no progress output on stderr')
    .option('-v, --verbose', 'also print each loading phase and which addon and device were chosen, and why')
    .action(async (opts: GenerateCommandOptions, cmd: Command) => {
      await runGenerate(opts, modelFromOptions(cmd, opts), { ...defaultDeps(), ...deps });
    });
}

export async function runGenerate(opts: GenerateCommandOptions, modelSource: ModelSource, deps: GenerateCommandDeps): Promise<void> {
  const count = parseIntOption('--count', opts.count, 1, [1, 10_000]);
  const outputs = outputPaths(opts.output, count);
  // Fail on an unwritable path now, not after minutes of loading and denoising.
  for (const out of outputs) await checkWritable(out);

  let noise: Float32Array | undefined;
  // Ranges of width, height, steps and guidance are checked by generate's option schema.
  let width = parseIntOption('--width', opts.width, 1024);
  let height = parseIntOption('--height', opts.height, 1024);
  if (opts.noise !== undefined) {
    if (count > 1) throw invalid('--noise gives the noise of one image: it cannot be combined with --count > 1');
    const shape = await readNoise(opts.noise);
    noise = shape.data;
    const [, , h8, w8] = shape.shape as [number, number, number, number];
    if (opts.width === undefined) width = w8 * 8;
    if (opts.height === undefined) height = h8 * 8;
    if (w8 * 8 !== width || h8 * 8 !== height) {
      throw invalid(`--noise ${opts.noise}: shape [${shape.shape.join(', ')}] is for ${w8 * 8}×${h8 * 8}, not ${width}×${height}`);
    }
  }
  const steps = parseIntOption('--steps', opts.steps, 50);
  const guidanceScale = parseNumberOption('--guidance', opts.guidance, 5.0);
  const firstSeed = opts.seed === undefined ? randomSeed() : parseSeed(opts.seed);
  if (opts.seed !== undefined && firstSeed + BigInt(count - 1) > MAX_SEED) {
    throw invalid(`--seed ${opts.seed} with --count ${count} runs past the largest seed 2^64 - 1`);
  }

  // Check every generate option before loading a model (loading can take minutes).
  parseGenerateOptions({ prompt: opts.prompt, negativePrompt: opts.negative ?? '', width, height, steps, guidanceScale, noise });

  const quiet = opts.quiet === true;
  const log = (line: string): void => {
    if (!quiet) deps.stderr.write(`${line}\n`);
  };
  const loadOptions: LoadOptions = {};
  if (opts.device !== undefined) loadOptions.device = opts.device;
  if (opts.threads !== undefined) loadOptions.threads = parseIntOption('--threads', opts.threads, 0, [0, 1024]);
  if (opts.precision !== undefined) loadOptions.precision = opts.precision as 'bf16' | 'fp32';
  if (opts.keepTextEncoder !== undefined) loadOptions.keepTextEncoder = opts.keepTextEncoder;

  const abort = new AbortController();
  const onSigint = (): void => abort.abort();
  process.once('SIGINT', onSigint);
  let model: OvisImage | undefined;
  try {
    log(`loading ${typeof modelSource === 'string' ? modelSource : 'the model'} ...`);
    loadOptions.signal = abort.signal;
    const loadProgress = createLoadProgress(deps.stderr, quiet, opts.verbose === true);
    loadOptions.onProgress = loadProgress.onProgress;
    try {
      model = await deps.loadModel(modelSource, loadOptions);
    } finally {
      loadProgress.stop();
    }
    log(`model ready on ${model.backend}`);
    for (let i = 0; i < count; i++) {
      const seed = noise ? undefined : (firstSeed + BigInt(i)) & MAX_SEED;
      const progress = createStepProgress(deps.stderr, quiet, count > 1 ? `[${i + 1}/${count}] ` : '');
      let result;
      try {
        result = await model.generate({
          prompt: opts.prompt,
          negativePrompt: opts.negative ?? '',
          width,
          height,
          steps,
          guidanceScale,
          ...(seed !== undefined ? { seed } : {}),
          ...(noise ? { noise } : {}),
          signal: abort.signal,
          onStep: progress.onStep,
        });
      } finally {
        progress.stop();
      }
      if (result.promptTruncated) log('ovis-image: warning: the prompt was too long and its end was cut off (284 tokens at most, template included)');
      const out = outputs[i]!;
      await writeFile(out, await result.toPNG());
      deps.stdout.write(`${out}\tseed=${result.seed === null ? 'custom-noise' : String(result.seed)}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
    await model?.dispose();
  }
}

function invalid(message: string): OvisError {
  return new OvisError('OVIS_INVALID_OPTIONS', message);
}

function parseIntOption(flag: string, value: string | undefined, fallback: number, range?: [number, number]): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  const inRange = !range || (n >= range[0] && n <= range[1]);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || !inRange) {
    throw invalid(`${flag} must be an integer${range ? ` in [${range[0]}, ${range[1]}]` : ''} (got ${JSON.stringify(value)})`);
  }
  return n;
}

function parseNumberOption(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw invalid(`${flag} must be a number (got ${JSON.stringify(value)})`);
  return n;
}

function parseSeed(value: string): bigint {
  if (!/^\d+$/.test(value.trim())) throw invalid(`--seed must be an integer in [0, 2^64 - 1] (got ${JSON.stringify(value)})`);
  const s = BigInt(value.trim());
  if (s > MAX_SEED) throw invalid(`--seed must be an integer in [0, 2^64 - 1] (got ${value})`);
  return s;
}

/** out.png for one image; out-1.png ... out-K.png for K. */
export function outputPaths(output: string, count: number): string[] {
  const abs = path.resolve(output);
  if (count === 1) return [abs];
  const ext = path.extname(abs) || '.png';
  const stem = path.extname(abs) ? abs.slice(0, -ext.length) : abs;
  return Array.from({ length: count }, (_, i) => `${stem}-${i + 1}${ext}`);
}

async function checkWritable(file: string): Promise<void> {
  const dir = path.dirname(file);
  const fail = (why: string): OvisError => new OvisError('OVIS_BAD_ARGUMENT', `cannot write ${file}: ${why}`);
  const existing = await stat(file).catch(() => undefined);
  if (existing?.isDirectory()) throw fail('it is a folder');
  const dirStat = await stat(dir).catch(() => undefined);
  if (!dirStat) throw fail(`the folder ${dir} does not exist`);
  if (!dirStat.isDirectory()) throw fail(`${dir} is not a folder`);
  try {
    await access(existing ? file : dir, fsConstants.W_OK);
  } catch {
    throw fail(existing ? 'the file is not writable' : `no permission to write in ${dir}`);
  }
}

async function readNoise(file: string): Promise<{ shape: number[]; data: Float32Array }> {
  const tensors = await readTensorFile(file);
  const noise = tensors.get('noise');
  if (!noise) throw invalid(`--noise ${file}: no tensor named "noise" (found: ${[...tensors.keys()].join(', ') || 'none'})`);
  const s = noise.shape;
  if (s.length !== 4 || s[0] !== 1 || s[1] !== LATENT_CHANNELS) {
    throw invalid(`--noise ${file}: "noise" must have shape [1, ${LATENT_CHANNELS}, H/8, W/8] (got [${s.join(', ')}])`);
  }
  return noise;
}

/**
 * Loading progress: Hub downloads as a bar on a terminal (a line per finished file otherwise); the
 * other phases only with --verbose.
 */
function createLoadProgress(stream: NodeJS.WritableStream, quiet: boolean, verbose: boolean): { onProgress: (p: LoadProgress) => void; stop: () => void } {
  if (quiet) return { onProgress: () => {}, stop: () => {} };
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  const bar = tty ? createDownloadProgressBar(stream as NodeJS.WriteStream) : undefined;
  let filesDone = -1;
  return {
    onProgress(p) {
      if (p.phase === 'download' && p.download) {
        if (bar) bar.onProgress(p.download);
        else if (p.download.filesDone !== filesDone) {
          filesDone = p.download.filesDone;
          stream.write(`download: ${filesDone}/${p.download.filesTotal} files, ${(p.download.bytes / 2 ** 20).toFixed(1)} of ${(p.download.total / 2 ** 20).toFixed(1)} MiB\n`);
        }
        return;
      }
      bar?.stop();
      if (verbose || p.phase === 'download') stream.write(`${p.phase}: ${p.message}\n`);
    },
    stop: () => bar?.stop(),
  };
}

interface StepProgress {
  onStep: (e: StepEvent) => void;
  stop: () => void;
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const t = Math.round(seconds);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A bar on a terminal, a line per step on a pipe or file, nothing when quiet. */
function createStepProgress(stream: NodeJS.WritableStream, quiet: boolean, prefix: string): StepProgress {
  if (quiet) return { onStep: () => {}, stop: () => {} };
  let first: { t: number; step: number } | undefined;
  const rate = (e: StepEvent): { itPerS: number; eta: number } => {
    const now = performance.now();
    // Rate over steps after the first: the first one also carries text encoding.
    first ??= { t: now, step: e.step };
    const done = e.step - first.step;
    const itPerS = done > 0 ? (done * 1000) / (now - first.t) : 0;
    return { itPerS, eta: itPerS > 0 ? (e.steps - e.step) / itPerS : Infinity };
  };
  if (!(stream as NodeJS.WriteStream).isTTY) {
    return {
      onStep(e) {
        const { itPerS, eta } = rate(e);
        stream.write(`${prefix}step ${e.step}/${e.steps}  ${itPerS > 0 ? itPerS.toFixed(2) : '-'} it/s  ETA ${formatDuration(eta)}\n`);
      },
      stop: () => {},
    };
  }
  const bar = new SingleBar({
    stream: stream as NodeJS.WriteStream,
    hideCursor: true,
    format: `${prefix}{bar} {value}/{total} steps | {rate} it/s | ETA {etaText}`,
    barsize: 30,
  });
  let started = false;
  return {
    onStep(e) {
      const { itPerS, eta } = rate(e);
      const payload = { rate: itPerS > 0 ? itPerS.toFixed(2) : '-', etaText: formatDuration(eta) };
      if (!started) {
        bar.start(e.steps, e.step, payload);
        started = true;
      } else {
        bar.update(e.step, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
