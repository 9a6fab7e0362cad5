/**
 * The dynamic linker's cache (`ldconfig -p`), read asynchronously: the folders of the libraries it
 * knows by a given name. An absent or failing ldconfig means an empty cache, not an error.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';

const LDCONFIG = ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig'];

function ldconfigOutput(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, ['-p'], { encoding: 'utf8', timeout: 5_000, maxBuffer: 16 << 20 }, (err, stdout) => resolve(err ? undefined : stdout));
  });
}

/** `ldconfig -p` lines look like "\tlibcublasLt.so.13 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublasLt.so.13". */
export function parseLdconfig(text: string, names: readonly string[]): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+)\s+\(.*\)\s+=>\s+(.+?)\s*$/.exec(line);
    if (m && names.includes(m[1]!)) out.push(m[2]!);
  }
  return out;
}

/** The files the linker cache lists under these names. */
export async function linkerCacheFiles(names: readonly string[]): Promise<string[]> {
  for (const file of LDCONFIG) {
    const text = await ldconfigOutput(file);
    if (text !== undefined) return parseLdconfig(text, names);
  }
  return [];
}

/** Folders of those files, without repeats. */
export async function linkerCacheDirs(names: readonly string[]): Promise<string[]> {
  return [...new Set((await linkerCacheFiles(names)).map((f) => path.dirname(f)))];
}
