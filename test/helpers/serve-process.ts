/**
 * `ovis-image serve` and `worker` as real processes of the built CLI (bin/ovis-image.js), and small HTTP
 * helpers for talking to them on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.join(ROOT, 'bin', 'ovis-image.js');
export const TINY_MODEL = path.join(ROOT, 'test', 'fixtures', 'golden', 'tiny-diffusers');
/** One thread everywhere: results are bit-identical between the server and the API in the test. */
export const MODEL_FLAGS = ['-m', TINY_MODEL, '--device', 'cpu', '--threads', '1', '-q'];

export interface CliProcess {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in stdout. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OVIS_DEBUG: '' } });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          const m = pattern.exec(out);
          if (m) return done(() => resolve(m));
          if (child.exitCode !== null) return done(() => reject(new Error(`exited (${child.exitCode}) before printing ${pattern}:\n${out}\n${err}`)));
          if (Date.now() - started > timeoutMs) done(() => reject(new Error(`no ${pattern} after ${timeoutMs} ms:\n${out}\n${err}`)));
        }, 20);
        const done = (f: () => void): void => (clearInterval(poll), f());
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Starts `serve` on a free port and waits until it listens; returns the process and its base URL. */
export async function startServe(args: string[]): Promise<{ proc: CliProcess; url: string }> {
  const proc = startCli(['serve', '--port', '0', ...args]);
  const m = await proc.waitFor(/listening on (http:\/\/\S+)/);
  return { proc, url: m[1]! };
}

export async function startWorker(args: string[]): Promise<CliProcess> {
  const proc = startCli(['worker', ...MODEL_FLAGS, ...args]);
  await proc.waitFor(/worker \d+ ready/);
  return proc;
}

export async function postJson(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
}

/** Server JSON as the tests read it: shapes are what the expectations check. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- loose on purpose: each test asserts the fields it reads
export type Json = any;

export interface SseEvent {
  event: string;
  data: Json;
}

/** Reads a whole server-sent-events response (until the server closes it). */
export async function readSse(res: Response): Promise<SseEvent[]> {
  const text = await res.text();
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    const event = /^event: (.*)$/m.exec(block)?.[1];
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) });
  }
  return events;
}

/** Waits until GET /v1/jobs/:id shows a state matching `states`. */
export async function waitForJob(url: string, id: string, states: RegExp, timeoutMs = 60_000, headers: Record<string, string> = {}): Promise<Json> {
  const started = Date.now();
  for (;;) {
    const job = (await (await fetch(`${url}/v1/jobs/${id}`, { headers })).json()) as Json;
    if (states.test(job.state)) return job;
    if (Date.now() - started > timeoutMs) throw new Error(`job ${id} still ${job.state} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until a job has done at least one denoising step. */
export async function waitForRunning(url: string, id: string, headers: Record<string, string> = {}): Promise<void> {
  const started = Date.now();
  for (;;) {
    const job = (await (await fetch(`${url}/v1/jobs/${id}`, { headers })).json()) as Json;
    if (job.state === 'running' && job.step >= 1) return;
    if (job.state !== 'queued' && job.state !== 'running') throw new Error(`job ${id} is ${job.state}`);
    if (Date.now() - started > 60_000) throw new Error(`job ${id} did not start`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
