/**
 * `ovis-image setup cuda`: fetches NVIDIA's cuBLAS for CUDA 13 into ovis-image's cache (lib/cuda-libs),
 * with a progress bar on a terminal, and prints the folder. Nothing is downloaded unless this is run.
 */
import type { Command } from 'commander';
import { setupCublas, type SetupProgress } from '../cuda-libs/index.js';
import { createDownloadProgressBar } from './download.js';

interface SetupCudaOptions {
  cublasVersion?: string;
  wheel?: string;
  force?: boolean;
  progress: boolean;
}

function progressReporter(show: boolean): { onProgress: (p: SetupProgress) => void; stop: () => void } {
  const bar = process.stderr.isTTY && show ? createDownloadProgressBar() : undefined;
  let lastPhase = '';
  return {
    onProgress(p) {
      if (p.phase === 'download' && p.total) {
        bar?.onProgress({ file: p.message, fileBytes: p.bytes ?? 0, fileTotal: p.total, bytes: p.bytes ?? 0, total: p.total, filesDone: 0, filesTotal: 1 });
        if (bar) return;
      }
      if (p.phase !== 'download' || lastPhase !== 'download') {
        bar?.stop();
        if (show) process.stderr.write(`${p.message}\n`);
      }
      lastPhase = p.phase;
    },
    stop: () => bar?.stop(),
  };
}

export function registerSetupCommand(program: Command): Command {
  const setup = program.command('setup').description('set up optional parts of ovis-image');
  setup
    .command('cuda')
    .description("download NVIDIA's cuBLAS for CUDA 13 (the nvidia-cublas wheel, ~500 MB) into the ovis-image cache for the CUDA backend")
    .option('--cublas-version <v>', 'an exact nvidia-cublas version, e.g. 13.1.1.3 (default: the newest 13.x on the index)')
    .option('--wheel <file>', 'install from an nvidia-cublas wheel already downloaded (no network)')
    .option('--force', 'fetch again even when the cache has cuBLAS already')
    .option('--no-progress', 'no progress output')
    .addHelpText('after', '\nThe index is $OVIS_CUDA_INDEX_URL, else $PIP_INDEX_URL, else https://pypi.org/simple. The files go to $XDG_CACHE_HOME/ovis-image/cublas13.')
    .action(async (options: SetupCudaOptions) => {
      const reporter = progressReporter(options.progress);
      try {
        const r = await setupCublas({
          ...(options.cublasVersion ? { version: options.cublasVersion } : {}),
          ...(options.wheel ? { wheel: options.wheel } : {}),
          ...(options.force ? { force: true } : {}),
          onProgress: reporter.onProgress,
        });
        reporter.stop();
        if (r.cached && options.progress) process.stderr.write(`cuBLAS ${r.version ?? ''} is already set up (--force fetches it again)\n`);
        process.stdout.write(`${r.dir}\n`);
      } finally {
        reporter.stop();
      }
    });
  return setup;
}
