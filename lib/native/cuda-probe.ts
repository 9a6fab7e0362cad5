/**
 * Loads the CUDA addon in a child process first (`node -e`), so that a broken driver or a missing
 * library can only kill the child, never the app. The result is cached per addon file for the process.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { CudaProbeResult } from './backend-choice.js';
import { cudaAddonCandidates } from './addon-files.js';

/** Runs in the child: require the addon, check it has CUDA, count the GPUs; prints one JSON line. */
const PROBE_SCRIPT = `
let out;
try {
  const b = require(process.argv[1]);
  if (typeof b.cudaDeviceCount !== 'function' || typeof b.backends !== 'function') out = { error: 'it does not export cudaDeviceCount and backends' };
  else if (!b.backends().includes('cuda')) out = { error: 'it was built without CUDA (backends: ' + b.backends().join(', ') + ')' };
  else out = { count: b.cudaDeviceCount() };
} catch (e) {
  out = { error: String(e && e.message || e).trim().split('\\n')[0] };
}
process.stdout.write(JSON.stringify(out) + '\\n');
`;

const PROBE_TIMEOUT_MS = 60_000;
const cache = new Map<string, CudaProbeResult>();

/** Probes one addon file in a child process (uncached). */
export function probeAddonFile(file: string, timeoutMs = PROBE_TIMEOUT_MS): CudaProbeResult {
  const fail = (why: string): CudaProbeResult => ({ ok: false, addonPath: file, reason: `the CUDA addon ${file} ${why}` });
  // ELECTRON_RUN_AS_NODE: under Electron, execPath is the app; this makes it a plain node for the probe.
  const env = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  const r = spawnSync(process.execPath, ['-e', PROBE_SCRIPT, file], { encoding: 'utf8', timeout: timeoutMs, windowsHide: true, env });
  if (r.error) return fail(`could not be probed: ${r.error.message}`);
  if (r.signal) return fail(`crashed the probe process (${r.signal}) while loading; ${lastLine(r.stderr) || 'no message'}`);
  let parsed: { count?: unknown; error?: unknown } | undefined;
  try {
    parsed = JSON.parse(lastLine(r.stdout)) as { count?: unknown; error?: unknown };
  } catch {
    parsed = undefined;
  }
  if (!parsed || r.status !== 0) return fail(`failed to load (exit code ${r.status}): ${lastLine(r.stderr) || lastLine(r.stdout) || 'no message'}`);
  if (typeof parsed.error === 'string') return fail(`cannot be used: ${parsed.error}`);
  const count = parsed.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return fail(`reported a bad GPU count ${JSON.stringify(count)}`);
  return { ok: true, addonPath: file, deviceCount: count };
}

function lastLine(text: string | null | undefined): string {
  const lines = (text ?? '').trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}

/**
 * Finds the CUDA addon (addon-files.ts) and probes the first file that exists, once per process.
 * No file at all is reported with the places looked at and how to build one.
 */
export function probeCuda(candidates: string[] = cudaAddonCandidates()): CudaProbeResult {
  const file = candidates.find((f) => existsSync(f));
  if (!file) {
    return {
      ok: false,
      addonPath: undefined,
      reason:
        `no CUDA build of the addon is installed (looked for ${candidates.join(', ')}). ` +
        'Build one in a clone of ovis-image with `npm run prebuilds:cuda` (needs the CUDA 13 toolkit), or set OVIS_IMAGE_CUDA_ADDON to its .node file',
    };
  }
  let result = cache.get(file);
  if (!result) {
    result = probeAddonFile(file);
    cache.set(file, result);
  }
  return result;
}
