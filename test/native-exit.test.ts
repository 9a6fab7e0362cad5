/**
 * Process lifetime with the real addon, in child processes: an idle engine must not keep Node alive,
 * pending calls must, and exiting (or ending a worker thread) mid-run must shut the worker thread
 * down cleanly. Needs the built addon (npm run build:native).
 */
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/native/binding.js';
import { tinyPlanText } from './native-helpers.js';

let dir: string;
let planFile: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'ovis-native-exit-'));
  planFile = path.join(dir, 'tiny.plan');
  writeFileSync(planFile, await tinyPlanText());
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

// Prelude of every child script: the addon, the plan and a small request builder.
const PRELUDE = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const require = createRequire(process.env.OVIS_ROOT + '/package.json');
const binding = require('node-gyp-build')(process.env.OVIS_ROOT);
const plan = readFileSync(process.env.OVIS_PLAN, 'utf8');
const request = (steps) => {
  const T = 32, ids = new Int32Array(T).fill(900), mask = new Int32Array(T).fill(1);
  return { ids, mask, tokens: T, dropPrefix: 28, noise: new Float32Array(16 * 16).fill(0.1),
    noiseShape: [1, 16, 4, 4], sigmas: new Float32Array(steps + 1).map((_, i) => 1 - i / steps),
    guidance: 1, reportLatents: false };
};
`;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

function runChild(body: string, args: string[] = [], timeoutMs = 60_000): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...args, '--input-type=module', '-e', PRELUDE + body], {
      env: { ...process.env, OVIS_ROOT: packageRoot, OVIS_PLAN: planFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

function expectCleanExit(r: ChildResult, lastLine: string): void {
  expect(r.timedOut, `child did not exit by itself; stderr: ${r.stderr}`).toBe(false);
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(0);
  expect(r.stdout.trim().split('\n').at(-1)).toBe(lastLine);
}

describe('process lifetime', () => {
  it('exits by itself after using an engine without dispose, and stays alive while calls are pending', async () => {
    const r = await runChild(`
      const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
      // No await: only the pending calls keep the process alive until they finish.
      e.load(plan)
        .then(() => e.generate(request(3)))
        .then((g) => console.log('image', g.image.shape.join('x')))
        .then(() => setTimeout(() => console.log('idle'), 50));
    `);
    expectCleanExit(r, 'idle');
    expect(r.stdout).toContain('image 1x3x32x32');
  });

  it('exits when an idle engine was never loaded', async () => {
    const r = await runChild(`new binding.Engine({ device: 'cpu', threads: 0, fp32: false }); console.log('made');`);
    expectCleanExit(r, 'made');
  });

  it('frees engines that are garbage collected', async () => {
    const r = await runChild(
      `
      for (let i = 0; i < 3; i++) {
        const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
        await e.load(plan);
        await e.encodeText(new Int32Array(8).fill(7), new Int32Array(8).fill(1), [1, 8]);
      }
      for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
      console.log('collected');
    `,
      ['--expose-gc'],
    );
    expectCleanExit(r, 'collected');
  });

  it('stops a running generate cleanly when the process exits mid-run', async () => {
    const r = await runChild(`
      const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
      await e.load(plan);
      e.generate(request(100000), (s) => {
        if (s.step === 1) { console.log('exiting'); process.exit(0); }
      });
    `);
    expectCleanExit(r, 'exiting');
  });

  it('stops a running generate cleanly when its worker thread is terminated', async () => {
    const r = await runChild(`
      import { Worker } from 'node:worker_threads';
      const code = ${JSON.stringify(PRELUDE)} + \`
        import { parentPort } from 'node:worker_threads';
        const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
        await e.load(plan);
        e.generate(request(100000), (s) => { if (s.step === 1) parentPort.postMessage('running'); });
      \`;
      const w = new Worker(new URL('data:text/javascript,' + encodeURIComponent(code)), { env: process.env });
      await new Promise((resolve) => w.once('message', resolve));
      await w.terminate();
      console.log('terminated');
      const e = new binding.Engine({ device: 'cpu', threads: 1, fp32: false });
      await e.load(plan);
      await e.generate(request(2));
      console.log('main still works');
    `);
    expectCleanExit(r, 'main still works');
  });
});
