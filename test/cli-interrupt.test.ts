// Ctrl-C and the prompt-length warning, through the real binary.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli } from './cli-helpers.js';

const TINY = path.resolve('test/fixtures/golden/tiny-diffusers');
const BIN = path.resolve('bin/ovis-image.js');
let dir: string;
beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'ovis-cli-int-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Starts generate, sends SIGINT once the second step is reported, resolves with the exit. */
function interruptDuringSteps(args: string[]): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'generate', ...args], { env: { ...process.env, OVIS_DEBUG: '' } });
    let stderr = '';
    let sent = false;
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (!sent && /step 2\//.test(stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('generate: Ctrl-C', () => {
  it('cancels the run and exits 130, leaving no output file', async () => {
    const own = mkdtempSync(path.join(dir, 'cancel-'));
    const out = path.join(own, 'cancelled.png');
    const started = Date.now();
    const r = await interruptDuringSteps(['-m', TINY, '-p', 'x', '--width', '64', '--height', '64', '--steps', '1000', '--guidance', '1', '--device', 'cpu', '-o', out]);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/ovis-image: error: interrupted \(Ctrl-C\)\n$/);
    expect(r.stderr).not.toMatch(/step 1000\/1000/); // cancelled, not run to the end
    expect(readdirSync(own)).toEqual([]); // neither the image nor a temporary file
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});

describe('generate: a too long prompt', () => {
  const longPrompt = 'word '.repeat(400);
  const args = (out: string): string[] => ['generate', '-m', TINY, '-p', longPrompt, '--width', '32', '--height', '32', '--steps', '1', '--device', 'cpu', '-o', path.join(dir, out)];

  it('is warned about on stderr before generating', () => {
    const r = cli(args('long.png'));
    expect(r.code).toBe(0);
    const warning = r.stderr.indexOf('ovis-image: warning: the prompt is too long');
    expect(warning).toBeGreaterThanOrEqual(0);
    expect(warning).toBeLessThan(r.stderr.indexOf('step 1/1'));
  });

  it('is warned about even with --quiet', () => {
    const r = cli([...args('long-quiet.png'), '-q']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^ovis-image: warning: the prompt is too long: its chat text has \d+ tokens, the model reads 284; the end will be cut off\n$/);
  });
});
