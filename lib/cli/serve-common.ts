/** What `serve` and `worker` share: the model and device flags, loading the model, integer flags, stop signals. */
import type { Command } from 'commander';
import { OvisImage } from '../ovis-image.js';
import { parseLoadFlags } from './generate-flags.js';
import { intFlag } from './flag-values.js';
import { addModelOptions, localModel, modelFromOptions, type ModelOptionValues } from './model-options.js';
import { createLoadProgress } from './progress.js';
import { flagError } from './usage-error.js';

export interface DeviceFlags extends ModelOptionValues {
  device?: string;
  threads?: string;
  precision?: string;
  keepTextEncoder?: boolean;
  quiet?: boolean;
}

/** `generate`'s model and device options. */
export function addServingModelOptions(command: Command): Command {
  return addModelOptions(command)
    .option('--device <device>', 'auto, cpu, cuda or cuda:N (default: auto)')
    .option('--threads <n>', 'CPU threads, 0 = all cores (default: 0)')
    .option('--precision <p>', 'bf16 or fp32 (default: bf16 on CUDA, fp32 on the CPU; bf16 on the CPU needs AVX512-BF16)')
    .option('--keep-text-encoder', 'keep the text encoder on the device between images (default: on the CPU only)')
    .option('--no-keep-text-encoder', 'free the text encoder after the prompts are encoded')
    .option('-q, --quiet', 'no progress output on stderr');
}

/** Checks the device flags (usage errors exit 2), then fetches and loads the model once. */
export async function loadServingModel(o: DeviceFlags, stderr: NodeJS.WritableStream = process.stderr): Promise<OvisImage> {
  const load = parseLoadFlags({ prompt: '', ...o }, { device: o.device, threads: o.threads, precision: o.precision });
  const source = modelFromOptions(o);
  const quiet = o.quiet === true;
  const local = await localModel(source, { cacheDir: o.cacheDir });
  if (!quiet) stderr.write(`loading ${typeof source === 'string' ? source : 'the model'} ...\n`);
  const progress = createLoadProgress(stderr, quiet, false);
  try {
    const model = await OvisImage.load(local, { ...load, onProgress: progress.onProgress });
    if (!quiet) stderr.write(`model ready on ${model.backend}\n`);
    return model;
  } finally {
    progress.stop();
  }
}

/** An integer flag in [min, max], or the default; a usage error naming the flag otherwise. */
export function intOption(flag: string, value: string | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = intFlag(value)!;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw flagError(flag, `must be an integer in [${min}, ${max}]`, value);
  return n;
}

/** Resolves on the first SIGTERM or SIGINT (a second one exits at once). */
export function stopSignal(): { stopped: Promise<string>; dispose: () => void } {
  let resolve!: (s: string) => void;
  const stopped = new Promise<string>((r) => (resolve = r));
  let count = 0;
  const on = (signal: NodeJS.Signals): void => {
    if (++count > 1) process.exit(1);
    resolve(signal);
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return { stopped, dispose: () => (process.off('SIGTERM', on), process.off('SIGINT', on)) };
}
