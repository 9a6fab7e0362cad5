/**
 * Progress on stderr while `generate` runs: downloads, loading phases (with --verbose) and denoising
 * steps; a bar on a terminal, a line per event otherwise, nothing with --quiet.
 */
import { SingleBar } from 'cli-progress';
import type { DownloadProgress } from '../hub/index.js';
import type { LoadProgress, StepEvent } from '../pipeline/options.js';
import { createDownloadProgressBar } from './download.js';

/** Download progress of a Hub model: a bar on a terminal, a line per finished file otherwise. */
export function createDownloadReporter(stream: NodeJS.WritableStream, quiet: boolean): { onProgress: (p: DownloadProgress) => void; stop: () => void } {
  if (quiet) return { onProgress: () => {}, stop: () => {} };
  const bar = (stream as NodeJS.WriteStream).isTTY === true ? createDownloadProgressBar(stream as NodeJS.WriteStream) : undefined;
  if (bar) return bar;
  let filesDone = -1;
  return {
    onProgress(p) {
      if (p.filesDone === filesDone) return;
      filesDone = p.filesDone;
      stream.write(`download: ${filesDone}/${p.filesTotal} files, ${(p.bytes / 2 ** 20).toFixed(1)} of ${(p.total / 2 ** 20).toFixed(1)} MiB\n`);
    },
    stop: () => {},
  };
}

/**
 * Loading progress: Hub downloads as a bar on a terminal (a line per finished file otherwise); the
 * other phases only with --verbose.
 */
export function createLoadProgress(stream: NodeJS.WritableStream, quiet: boolean, verbose: boolean): { onProgress: (p: LoadProgress) => void; stop: () => void } {
  if (quiet) return { onProgress: () => {}, stop: () => {} };
  const download = createDownloadReporter(stream, quiet);
  return {
    onProgress(p) {
      if (p.phase === 'download' && p.download) return download.onProgress(p.download);
      download.stop();
      if (verbose || p.phase === 'download') stream.write(`${p.phase}: ${p.message}\n`);
    },
    stop: () => download.stop(),
  };
}

export interface StepProgress {
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
export function createStepProgress(stream: NodeJS.WritableStream, quiet: boolean, prefix: string): StepProgress {
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
