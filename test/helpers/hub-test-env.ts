import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
