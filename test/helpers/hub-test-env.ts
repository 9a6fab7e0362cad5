import { execFile } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { vi } from 'vitest';

/** A temp cache and an environment with no real HF settings leaking in (token file, offline flag, endpoint). */
export function isolatedHubEnv(): { cacheDir: string; cleanup: () => void } {
  const home = mkdtempSync(join(tmpdir(), 'ovis-hub-'));
  vi.stubEnv('HF_HOME', join(home, 'hf-home'));
  vi.stubEnv('HF_HUB_CACHE', '');
  vi.stubEnv('HUGGINGFACE_HUB_CACHE', '');
  vi.stubEnv('HF_TOKEN', '');
  vi.stubEnv('HUGGING_FACE_HUB_TOKEN', '');
  vi.stubEnv('HF_TOKEN_PATH', '');
  vi.stubEnv('HF_HUB_OFFLINE', '');
  vi.stubEnv('TRANSFORMERS_OFFLINE', '');
  vi.stubEnv('HF_ENDPOINT', '');
  return {
    cacheDir: join(home, 'cache'),
    cleanup: () => {
      vi.unstubAllEnvs();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Every file below `dir` (following links), as sorted relative paths. */
export function listTree(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) out.push(...listTree(full, rel));
    else out.push(rel);
  }
  return out.sort();
}

export function isRelativeSymlink(p: string): boolean {
  return lstatSync(p).isSymbolicLink() && !readlinkSync(p).startsWith('/');
}

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'ovis-image.js');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built CLI (bin/ovis-image.js), run asynchronously so a fake Hub in this process can answer it. */
export async function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
  try {
    const r = await promisify(execFile)(process.execPath, [BIN, ...args], { env: { ...process.env, OVIS_DEBUG: '', ...extraEnv }, timeout: 120_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
