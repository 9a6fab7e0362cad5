/**
 * Loads the CUDA addon in a child process first (`node -e`), so that a broken driver or a missing
 * library can only kill the child, never the app. Asynchronous (issue 11): the event loop keeps running
 * while the child loads the driver; a timeout and an AbortSignal stop it. The result is cached per
 * addon file for the process; concurrent callers share one child.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { AbortError } from '../errors.js';
import type { CudaProbeResult } from './backend-choice.js';
import { cudaAddonCandidates } from './addon-files.js';
import { driverProblem, type CudaInfo } from './cuda-checks.js';

/** Runs in the child: require the addon, check it has CUDA, count the GPUs; prints one JSON line. */
const PROBE_SCRIPT = `
let out;
try {
  const b = require(process.argv[1]);
  if (typeof b.cudaDeviceCount !== 'function' || typeof b.backends !== 'function') out = { error: 'it does not export cudaDeviceCount and backends' };
  else if (!b.backends().includes('cuda')) out = { error: 'it was built without CUDA (backends: ' + b.backends().join(', ') + ')' };
  else out = { count: b.cudaDeviceCount(), info: typeof b.cudaInfo === 'function' ? b.cudaInfo() : undefined };
} catch (e) {
  out = { error: String(e && e.message || e).trim().split('\\n')[0] };
}
process.stdout.write(JSON.stringify(out) + '\\n');
`;

const PROBE_TIMEOUT_MS = 60_000;

export interface ProbeOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

interface ChildOutcome {
  stdout: string;
  stderr: string;
  status: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

function runChild(file: string, options: ProbeOptions): Promise<ChildOutcome> {
  // ELECTRON_RUN_AS_NODE: under Electron, execPath is the app; this makes it a plain node for the probe.
  const env = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  const timeout = options.timeoutMs ?? PROBE_TIMEOUT_MS;
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['-e', PROBE_SCRIPT, file], { encoding: 'utf8', timeout, windowsHide: true, env, signal: options.signal }, (err, stdout, stderr) => {
      const e = err as (Error & { code?: unknown; killed?: boolean }) | null;
      const spawnFailed = e !== null && typeof e.code === 'string' && e.code !== 'ABORT_ERR';
      resolve({ stdout, stderr, status: child.exitCode, signal: child.signalCode, ...(spawnFailed || (e?.killed && !options.signal?.aborted) ? { error: e } : {}) });
    });
  });
}

function lastLine(text: string | null | undefined): string {
  const lines = (text ?? '').trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}

/** Reads the child's one JSON line into a probe result. */
export function interpretProbe(file: string, r: ChildOutcome, timeoutMs = PROBE_TIMEOUT_MS): CudaProbeResult {
  const fail = (why: string): CudaProbeResult => ({ ok: false, addonPath: file, reason: `the CUDA addon ${file} ${why}` });
  if (r.error && (r.error as { killed?: boolean }).killed) return fail(`did not finish loading within ${timeoutMs / 1000} s (a hung driver?); check nvidia-smi`);
  if (r.error) return fail(`could not be probed: ${r.error.message}`);
  if (r.signal) return fail(`crashed the probe process (${r.signal}) while loading; ${lastLine(r.stderr) || 'no message'}`);
  let parsed: { count?: unknown; error?: unknown; info?: CudaInfo } | undefined;
  try {
    parsed = JSON.parse(lastLine(r.stdout)) as typeof parsed;
  } catch {
    parsed = undefined;
  }
  if (!parsed || r.status !== 0) return fail(`failed to load (exit code ${r.status}): ${lastLine(r.stderr) || lastLine(r.stdout) || 'no message'}`);
  if (typeof parsed.error === 'string') return fail(`cannot be used: ${parsed.error}`);
  const count = parsed.count;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) return fail(`reported a bad GPU count ${JSON.stringify(count)}`);
  const info = parsed.info;
  const driver = info ? driverProblem(info) : undefined;
  if (driver) return { ok: false, addonPath: file, reason: driver, info };
  return { ok: true, addonPath: file, deviceCount: count, ...(info ? { info } : {}) };
}

/** Probes one addon file in a child process (uncached). Rejects with AbortError when `signal` aborts. */
export async function probeAddonFile(file: string, options: ProbeOptions = {}): Promise<CudaProbeResult> {
  if (options.signal?.aborted) throw new AbortError('The CUDA probe was aborted', { cause: options.signal.reason });
  const outcome = await runChild(file, options);
  if (options.signal?.aborted) throw new AbortError('The CUDA probe was aborted', { cause: options.signal.reason });
  return interpretProbe(file, outcome, options.timeoutMs);
}

/** One child per addon file; callers that abort leave, and the last one to leave stops the child. */
interface Shared {
  result: Promise<CudaProbeResult>;
  controller: AbortController;
  waiting: number;
}
const settled = new Map<string, CudaProbeResult>();
const inFlight = new Map<string, Shared>();

function shared(file: string, timeoutMs: number | undefined): Shared {
  let entry = inFlight.get(file);
  if (!entry) {
    const controller = new AbortController();
    const result = probeAddonFile(file, { signal: controller.signal, ...(timeoutMs ? { timeoutMs } : {}) });
    const created: Shared = { result, controller, waiting: 0 };
    entry = created;
    inFlight.set(file, created);
    result.then(
      (r) => settled.set(file, r),
      () => undefined,
    ).finally(() => inFlight.delete(file));
  }
  return entry;
}

function waitShared(entry: Shared, signal: AbortSignal | undefined): Promise<CudaProbeResult> {
  entry.waiting++;
  return new Promise((resolve, reject) => {
    const leave = (): void => {
      signal?.removeEventListener('abort', onAbort);
      entry.waiting--;
    };
    const onAbort = (): void => {
      leave();
      if (entry.waiting === 0) entry.controller.abort();
      reject(new AbortError('The CUDA probe was aborted', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    entry.result.then(
      (r) => {
        leave();
        resolve(r);
      },
      (err: unknown) => {
        leave();
        reject(err);
      },
    );
  });
}

/** The result of the last probe of the first CUDA addon file that exists, if one has finished. */
export function cachedProbe(candidates: string[] = cudaAddonCandidates()): CudaProbeResult | undefined {
  const file = candidates.find((f) => existsSync(f));
  return file ? settled.get(file) : undefined;
}

/** The result when no CUDA addon file exists: the places looked at and how to get one. */
export function noCudaAddon(candidates: string[]): CudaProbeResult {
  return {
    ok: false,
    addonPath: undefined,
    reason:
      `no CUDA build of the addon is installed (looked for ${candidates.join(', ')}). ` +
      'Reinstall ovis-image from npm (the package ships one for Linux x64), build one in a clone with `npm run build:cuda` ' +
      '(needs the CUDA 13 toolkit), or set OVIS_IMAGE_CUDA_ADDON to its .node file',
  };
}

/**
 * Finds the CUDA addon (addon-files.ts) and probes the first file that exists, once per process.
 * No file at all is reported with the places looked at and how to get one.
 */
export async function probeCuda(options: ProbeOptions & { candidates?: string[] } = {}): Promise<CudaProbeResult> {
  if (options.signal?.aborted) throw new AbortError('The CUDA probe was aborted', { cause: options.signal.reason });
  const candidates = options.candidates ?? cudaAddonCandidates();
  const file = candidates.find((f) => existsSync(f));
  if (!file) return noCudaAddon(candidates);
  const done = settled.get(file);
  if (done) return done;
  return waitShared(shared(file, options.timeoutMs), options.signal);
}
