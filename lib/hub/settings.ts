import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where and how to reach the Hub, from options first and then the same env vars Python's huggingface_hub reads. */
export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  cacheDir: string;
}

export interface HubSettingOverrides {
  endpoint?: string | undefined;
  token?: string | undefined;
  offline?: boolean | undefined;
  cacheDir?: string | undefined;
}

const env = (name: string): string | undefined => {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
};

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.toUpperCase());
}

/** Python's os.path.expanduser for `~` and `~/...` (not `~user`). */
function expandUser(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir().replace(/\/+$/, '') + p.slice(1) : p;
}

/**
 * Python's os.path.expandvars(os.path.expanduser(p)), which huggingface_hub applies to HF_HOME,
 * HF_HUB_CACHE and HF_TOKEN_PATH: `HF_HOME="~/hf"` or `'$SCRATCH/hf'` must name the same folder for both.
 * Unknown variables are left as written, as Python does.
 */
export function expandPathLikePython(p: string): string {
  return expandUser(p).replace(/\$(\w+)|\$\{([^}]*)\}/g, (m, a: string | undefined, b: string | undefined) => process.env[(a ?? b) as string] ?? m);
}

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(): string {
  return expandPathLikePython(env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface'));
}

/** $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else $HF_HOME/hub (expanded again, as in Python). */
export function defaultHubCacheDir(): string {
  return expandPathLikePython(env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE') ?? join(hfHome(), 'hub'));
}

/** Like huggingface_hub's _clean_token: line breaks removed, spaces trimmed, empty means none. */
function cleanToken(t: string | undefined): string | undefined {
  const clean = t?.replace(/[\r\n]/g, '').trim();
  return clean === '' ? undefined : clean;
}

/** $HF_TOKEN, else the legacy name, else the file `huggingface-cli login` writes. */
export function defaultToken(): string | undefined {
  const fromEnv = cleanToken(env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN'));
  if (fromEnv) return fromEnv;
  try {
    return cleanToken(readFileSync(expandPathLikePython(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token')), 'utf8'));
  } catch {
    return undefined;
  }
}

export function resolveHubSettings(o: HubSettingOverrides = {}): HubSettings {
  const endpoint = (o.endpoint ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
  return {
    endpoint,
    token: o.token ?? defaultToken(),
    // As in Python, a set HF_HUB_OFFLINE (even "0") wins over TRANSFORMERS_OFFLINE.
    offline: o.offline ?? isTruthy(env('HF_HUB_OFFLINE') ?? env('TRANSFORMERS_OFFLINE')),
    cacheDir: o.cacheDir !== undefined ? expandUser(o.cacheDir) : defaultHubCacheDir(), // snapshot_download(cache_dir=) expands ~ too
  };
}
