import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { DEFAULT_MODEL_ID, downloadModel, type DownloadProgress } from '../hub/index.js';
import { withInterrupt } from './interrupt.js';

export const CACHE_DIR_HELP = 'Hub cache folder (default: $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)';

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

/** A stderr bar over all files: bytes done/total, speed and ETA measured over this run's bytes only. */
export function createDownloadProgressBar(stream: NodeJS.WriteStream = process.stderr): {
  onProgress: (p: DownloadProgress) => void;
  stop: () => void;
} {
  const bar = new SingleBar({
    stream,
    hideCursor: true,
    fps: 5,
    format: (options, params, payload: { text?: string }) => {
      const size = 30;
      const filled = Math.round(params.progress * size);
      const barText = (options.barCompleteString ?? '█').slice(0, filled) + (options.barIncompleteString ?? '░').slice(0, size - filled);
      return `${barText} ${payload.text ?? ''}`;
    },
  });
  let started = false;
  let firstBytes = 0;
  let t0 = 0;
  return {
    onProgress(p) {
      if (!started) {
        started = true;
        firstBytes = p.bytes;
        t0 = Date.now();
        bar.start(Math.max(1, p.total), 0, { text: '' });
      }
      const elapsed = (Date.now() - t0) / 1000;
      const rate = elapsed > 0.5 ? (p.bytes - firstBytes) / elapsed : 0;
      const eta = rate > 0 ? (p.total - p.bytes) / rate : Infinity;
      const text =
        `${formatBytes(p.bytes)}/${formatBytes(p.total)} ` +
        `${rate > 0 ? `${formatBytes(rate)}/s` : ''} ETA ${formatDuration(eta)} ` +
        `[${p.filesDone}/${p.filesTotal}] ${p.file}`;
      bar.update(p.bytes, { text });
    },
    stop() {
      if (started) bar.stop();
      started = false;
    },
  };
}

interface DownloadCommandOptions {
  revision?: string;
  cacheDir?: string;
  refresh?: boolean;
  progress: boolean;
}

/** `ovis-image download [repo]`: fetches a model into the Hugging Face cache and prints its snapshot folder. */
export function registerDownloadCommand(program: Command): Command {
  return program
    .command('download')
    .description('download a model from the Hugging Face Hub into the shared HF cache and print its folder')
    .argument('[repo]', 'model repo, owner/name[@revision]', DEFAULT_MODEL_ID)
    .option('--revision <rev>', 'branch, tag or commit hash (default: main)')
    .option('--cache-dir <dir>', CACHE_DIR_HELP)
    .option('--refresh', 'ask the Hub for the newest commit even when a complete copy is cached')
    .option('--no-progress', 'do not draw the progress bar on stderr')
    .action(async (repo: string, opts: DownloadCommandOptions) => {
      const bar = opts.progress && process.stderr.isTTY ? createDownloadProgressBar() : undefined;
      try {
        const dir = await withInterrupt((signal) =>
          downloadModel(repo, { revision: opts.revision, cacheDir: opts.cacheDir, refresh: opts.refresh, onProgress: bar?.onProgress, signal }),
        );
        bar?.stop();
        process.stdout.write(`${dir}\n`);
      } finally {
        bar?.stop();
      }
    });
}
