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

/** $HF_HOME, else $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface. */
export function hfHome(): string {
  return env('HF_HOME') ?? join(env('XDG_CACHE_HOME') ?? join(homedir(), '.cache'), 'huggingface');
}

/** $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE (legacy), else $HF_HOME/hub. */
export function defaultHubCacheDir(): string {
  return env('HF_HUB_CACHE') ?? env('HUGGINGFACE_HUB_CACHE') ?? join(hfHome(), 'hub');
}

/** $HF_TOKEN, else the legacy name, else the file `huggingface-cli login` writes. */
export function defaultToken(): string | undefined {
  const fromEnv = env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN');
  if (fromEnv) return fromEnv.trim();
  try {
    const t = readFileSync(env('HF_TOKEN_PATH') ?? join(hfHome(), 'token'), 'utf8').trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}

export function resolveHubSettings(o: HubSettingOverrides = {}): HubSettings {
  const endpoint = (o.endpoint ?? env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
  return {
    endpoint,
    token: o.token ?? defaultToken(),
    offline: o.offline ?? (isTruthy(env('HF_HUB_OFFLINE')) || isTruthy(env('TRANSFORMERS_OFFLINE'))),
    cacheDir: o.cacheDir ?? defaultHubCacheDir(),
  };
}
