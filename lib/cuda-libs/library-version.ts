/**
 * The version of a cuBLASLt file without loading it: the toolkit's versioned file name behind the
 * symlink (libcublasLt.so.13.1.0.3), the wheel's dist-info next to nvidia/ in site-packages, or the
 * meta.json that `ovis-image setup cuda` writes.
 */
import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';

async function fromFileName(file: string): Promise<string | undefined> {
  const real = await realpath(file).catch(() => file);
  return /\.so\.(\d+\.\d+[\d.]*)$/.exec(path.basename(real))?.[1];
}

/** nvidia/cu13/lib or nvidia/cublas/lib -> site-packages/nvidia_cublas*.dist-info/METADATA's Version. */
async function fromWheel(dir: string): Promise<string | undefined> {
  const m = /^(.*)\/nvidia\/(cu\d+|cublas)\/lib\/?$/.exec(dir);
  if (!m) return undefined;
  const site = m[1]!;
  const entries = await readdir(site).catch(() => [] as string[]);
  for (const e of entries.filter((n) => /^nvidia_cublas(_cu\d+)?-.*\.dist-info$/.test(n)).sort().reverse()) {
    const meta = await readFile(path.join(site, e, 'METADATA'), 'utf8').catch(() => '');
    const v = /^Version:\s*(\S+)/m.exec(meta)?.[1];
    if (v) return v;
  }
  return undefined;
}

async function fromSetupMeta(dir: string): Promise<string | undefined> {
  try {
    const meta = JSON.parse(await readFile(path.join(dir, 'meta.json'), 'utf8')) as { version?: unknown };
    return typeof meta.version === 'string' ? meta.version : undefined;
  } catch {
    return undefined;
  }
}

export async function libraryVersion(file: string): Promise<string | undefined> {
  const dir = path.dirname(file);
  return (await fromFileName(file)) ?? (await fromWheel(dir)) ?? (await fromSetupMeta(dir));
}
