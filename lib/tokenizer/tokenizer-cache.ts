/**
 * Parsed tokenizers, kept per file for the life of the process: parsing Qwen3's 11 MB tokenizer.json
 * takes seconds and ~100 MB of temporary heap, and apps load the same model again (after dispose, or
 * in several engines). A file is the same while its path, size and mtime are.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { Tokenizer } from '@huggingface/tokenizers';

/** Distinct tokenizer files kept; the least recently used goes first. */
const MAX_ENTRIES = 4;
const cache = new Map<string, Tokenizer>();

async function keyOf(file: string, config: Record<string, unknown>): Promise<string> {
  const real = await realpath(file); // links to one file share its entry
  const s = await stat(real);
  return JSON.stringify([real, s.size, s.mtimeMs, config]);
}

/** The parsed tokenizer of `file` (tokenizer.json) with `config` (tokenizer_config.json), parsed once. */
export async function cachedTokenizer(file: string, config: Record<string, unknown>): Promise<Tokenizer> {
  const key = await keyOf(file, config);
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit); // most recently used last
    return hit;
  }
  const tokenizer = new Tokenizer(JSON.parse(await readFile(file, 'utf8')) as object, config);
  cache.set(key, tokenizer);
  if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
  return tokenizer;
}

/** How many parsed tokenizers are kept (tests). */
export function cachedTokenizerCount(): number {
  return cache.size;
}
