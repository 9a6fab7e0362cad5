/**
 * `ovis-image setup cuda` through the real CLI against a local fake package index (test/helpers/
 * fake-index.ts) serving small fake nvidia-cublas wheels: the right wheel is picked, its sha256 checked,
 * only the two libraries extracted into $XDG_CACHE_HOME/ovis-image/cublas13, a broken download resumes,
 * and without network the error says what to do. Then the finder and `doctor` see the result.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { findCublasLt } from '../lib/cuda-libs/index.js';
import { pickWheel } from '../lib/cuda-libs/wheel-index.js';
import { assertBuilt } from './cli-helpers.js';
import { makeWheel, startFakeIndex, type FakeIndex, type FakeWheel } from './helpers/fake-index.js';
import { removeTempDirs, tempDir } from './model-helpers.js';

const BIN = path.resolve(__dirname, '..', 'bin', 'ovis-image.js');
const LT = randomBytes(300_000); // stands for libcublasLt.so.13 (random: the zip cannot shrink it)
const BLAS = Buffer.from('libcublas.so.13 stand-in');

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The CLI in a child process, asynchronously (the fake index runs in this process). */
function cliAsync(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, OVIS_DEBUG: '', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: unknown }).code as number) : 0, stdout, stderr });
    });
  });
}

let wheels: FakeWheel[];
let index: FakeIndex | undefined;

beforeAll(async () => {
  assertBuilt();
  const dist = (v: string) => ({ [`nvidia_cublas-${v}.dist-info/METADATA`]: `Name: nvidia-cublas\nVersion: ${v}\n` });
  wheels = [
    await makeWheel('nvidia_cublas-13.1.0.3-py3-none-manylinux_2_27_x86_64.whl', { 'nvidia/cu13/lib/libcublasLt.so.13': 'old', 'nvidia/cu13/lib/libcublas.so.13': 'old', ...dist('13.1.0.3') }),
    await makeWheel('nvidia_cublas-13.2.0.9-py3-none-manylinux_2_27_x86_64.whl', {
      'nvidia/cu13/lib/libcublasLt.so.13': LT,
      'nvidia/cu13/lib/libcublas.so.13': BLAS,
      'nvidia/cu13/lib/libnvblas.so.13': 'not needed',
      'nvidia/cu13/include/cublasLt.h': '/* header */',
      ...dist('13.2.0.9'),
    }),
    await makeWheel('nvidia_cublas-13.2.0.9-py3-none-manylinux_2_27_aarch64.whl', { 'nvidia/cu13/lib/libcublasLt.so.13': 'arm' }),
    await makeWheel('nvidia_cublas-14.0.0.1-py3-none-manylinux_2_27_x86_64.whl', { 'nvidia/cu14/lib/libcublasLt.so.14': 'next' }),
  ];
});

afterEach(async () => {
  await index?.close();
  index = undefined;
});
afterAll(removeTempDirs);

function home(): { HOME: string; XDG_CACHE_HOME: string; cublas: string } {
  const h = tempDir('setup-cuda');
  return { HOME: h, XDG_CACHE_HOME: path.join(h, 'cache'), cublas: path.join(h, 'cache', 'ovis-image', 'cublas13') };
}

describe('ovis-image setup cuda', () => {
  it('fetches the newest 13.x wheel for this machine, checks it and extracts only the two libraries', async () => {
    index = await startFakeIndex(wheels);
    const h = home();
    const r = await cliAsync(['setup', 'cuda'], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: index.url });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(h.cublas);
    expect(readdirSync(h.cublas).sort()).toEqual(['libcublas.so.13', 'libcublasLt.so.13', 'meta.json']);
    expect(readFileSync(path.join(h.cublas, 'libcublasLt.so.13')).equals(LT)).toBe(true);
    expect(readFileSync(path.join(h.cublas, 'libcublas.so.13')).equals(BLAS)).toBe(true);
    expect(JSON.parse(readFileSync(path.join(h.cublas, 'meta.json'), 'utf8'))).toMatchObject({ version: '13.2.0.9', sha256: wheels[1]!.sha256 });
    expect(index.requests.map((q) => q.path)).toEqual(['/simple/nvidia-cublas/', `/files/${wheels[1]!.filename}`]);
    expect(readdirSync(path.join(h.XDG_CACHE_HOME, 'ovis-image', 'downloads'))).toEqual([]); // the wheel is gone

    // The finder (and so the CUDA backend) now finds it; a second run fetches nothing.
    const found = await findCublasLt({ env: { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME }, root: tempDir('empty-root'), linkerDirs: async () => [] });
    expect(found.found).toMatchObject({ file: path.join(h.cublas, 'libcublasLt.so.13'), version: '13.2.0.9', place: 'ovis-image cache' });
    const again = await cliAsync(['setup', 'cuda'], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: index.url });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already set up/);
    expect(index.requests).toHaveLength(2);
  });

  it('resumes a download that broke off', async () => {
    index = await startFakeIndex(wheels, { cutAfter: 100_000 });
    const h = home();
    const env = { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: index.url };
    const first = await cliAsync(['setup', 'cuda'], env);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/^ovis-image: error: the download of .* broke off after \d+ bytes .*run the command again: it resumes/m);
    const part = path.join(h.XDG_CACHE_HOME, 'ovis-image', 'downloads', `${wheels[1]!.filename}.part`);
    expect(existsSync(part)).toBe(true);
    const second = await cliAsync(['setup', 'cuda'], env);
    expect(second.code).toBe(0);
    const fileRequests = index.requests.filter((q) => q.path.startsWith('/files/'));
    expect(fileRequests).toHaveLength(2);
    expect(fileRequests[1]!.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(readFileSync(path.join(h.cublas, 'libcublasLt.so.13')).equals(LT)).toBe(true);
  });

  it('refuses a download whose sha256 differs from the index, and deletes it', async () => {
    index = await startFakeIndex(wheels, { wrongSha: true });
    const h = home();
    const r = await cliAsync(['setup', 'cuda'], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: index.url });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has sha256 [0-9a-f]{64}, but the index says f{64}; it was deleted: run the command again/);
    expect(existsSync(h.cublas)).toBe(false);
    expect(readdirSync(path.join(h.XDG_CACHE_HOME, 'ovis-image', 'downloads'))).toEqual([]);
  });

  it('reads the PEP 691 JSON listing too, and installs an exact --version', async () => {
    index = await startFakeIndex(wheels, { json: true });
    const h = home();
    const r = await cliAsync(['setup', 'cuda', '--cublas-version', '13.1.0.3'], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: index.url });
    expect(r.code).toBe(0);
    expect(readFileSync(path.join(h.cublas, 'libcublasLt.so.13'), 'utf8')).toBe('old');
  });

  it('without network: says what to do, and --wheel installs from a file', async () => {
    const h = home();
    const offlineUrl = `http://127.0.0.1:${await closedPort()}/simple`;
    const r = await cliAsync(['setup', 'cuda', '--no-progress'], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: offlineUrl });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`could not reach ${offlineUrl}/nvidia-cublas/ (ECONNREFUSED)`);
    expect(r.stderr).toMatch(/OVIS_CUDA_INDEX_URL/);
    expect(r.stderr).toMatch(/ovis-image setup cuda --wheel <file>/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);

    const file = path.join(tempDir('wheel'), wheels[1]!.filename);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, wheels[1]!.data);
    const offline = await cliAsync(['setup', 'cuda', '--wheel', file, '--no-progress'], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME, OVIS_CUDA_INDEX_URL: offlineUrl });
    expect(offline.code).toBe(0);
    expect(offline.stderr).toBe('');
    expect(readFileSync(path.join(h.cublas, 'libcublasLt.so.13')).equals(LT)).toBe(true);
  });

  it('refuses a wheel that is not nvidia-cublas 13', async () => {
    const h = home();
    const file = path.join(tempDir('wheel'), wheels[3]!.filename);
    writeFileSync(file, wheels[3]!.data);
    const r = await cliAsync(['setup', 'cuda', '--wheel', file], { HOME: h.HOME, XDG_CACHE_HOME: h.XDG_CACHE_HOME });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/has no nvidia\/cu13\/lib\/libcublasLt\.so\.13.*not an nvidia-cublas 13 wheel/);
    expect(existsSync(h.cublas)).toBe(false);
  });
});

describe('pickWheel', () => {
  it('takes the newest 13.x manylinux wheel of the machine that has a sha256', () => {
    const link = (filename: string, hashed = true) => ({ filename, href: `/f/${filename}`, sha256: hashed ? 'a'.repeat(64) : undefined });
    const links = [
      link('nvidia_cublas-13.0.0.19-py3-none-manylinux_2_27_x86_64.whl'),
      link('nvidia_cublas-13.10.0.1-py3-none-manylinux_2_27_x86_64.whl', false),
      link('nvidia_cublas-13.2.0.9-py3-none-manylinux_2_27_x86_64.whl'),
      link('nvidia_cublas-13.3.0.1-py3-none-win_amd64.whl'),
      link('nvidia_cublas_cu12-12.9.1.4-py3-none-manylinux_2_27_x86_64.whl'),
    ];
    expect(pickWheel(links, 'http://x/simple/nvidia-cublas/', 'x86_64')).toMatchObject({ version: '13.2.0.9', url: 'http://x/f/nvidia_cublas-13.2.0.9-py3-none-manylinux_2_27_x86_64.whl' });
    expect(pickWheel(links, 'http://x/simple/nvidia-cublas/', 'aarch64')).toBeUndefined();
  });
});
