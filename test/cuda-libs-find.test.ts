/**
 * The cuBLASLt finder (lib/cuda-libs): the search order of issue 14 on fake folders (a temp root stands
 * for '/', a temp HOME for the user's), the version read without loading the file, and CUDA 12's copy
 * reported when it is all there is.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cublasMissingReason, findCublasLt } from '../lib/cuda-libs/index.js';
import { parseLdconfig } from '../lib/cuda-libs/linker-cache.js';
import { removeTempDirs, tempDir } from './model-helpers.js';

afterAll(removeTempDirs);

function lib(dir: string, name = 'libcublasLt.so.13'): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, 'not really a library');
  return file;
}

/** A fake machine: root, HOME, no linker cache unless given. */
function machine(linker: string[] = []) {
  const base = tempDir('cublas-find');
  const root = path.join(base, 'root');
  const home = path.join(base, 'home');
  mkdirSync(root, { recursive: true });
  mkdirSync(home, { recursive: true });
  const env: NodeJS.ProcessEnv = { HOME: home, XDG_CACHE_HOME: path.join(home, '.cache') };
  const find = (extra: NodeJS.ProcessEnv = {}) => findCublasLt({ env: { ...env, ...extra }, root, linkerDirs: async () => linker });
  return { base, root, home, env, find };
}

describe('findCublasLt', () => {
  it('finds nothing on an empty machine and lists every place looked, ending with the setup cache', async () => {
    const m = machine();
    const r = await m.find();
    expect(r.found).toBeUndefined();
    expect(r.cuda12).toEqual([]);
    const places = r.looked.map((l) => l.place);
    expect(places[0]).toBe('CUDA toolkit');
    expect(places.at(-1)).toBe('ovis-image cache');
    expect(r.looked.at(-1)!.file).toBe(path.join(m.home, '.cache', 'ovis-image', 'cublas13', 'libcublasLt.so.13'));
    expect(cublasMissingReason(r)).toMatch(/libcublasLt\.so\.13 \(cuBLASLt of CUDA 13\) was not found .*ovis-image setup cuda/);
  });

  it('takes OVIS_CUBLASLT_PATH (file or folder) before everything else', async () => {
    const m = machine();
    const toolkit = lib(path.join(m.root, 'usr/local/cuda/lib64'));
    const own = lib(path.join(m.base, 'mine'));
    expect((await m.find()).found?.file).toBe(toolkit);
    expect((await m.find({ OVIS_CUBLASLT_PATH: own })).found).toMatchObject({ file: own, place: 'OVIS_CUBLASLT_PATH' });
    expect((await m.find({ OVIS_CUBLASLT_PATH: path.dirname(own) })).found?.file).toBe(own);
  });

  it('follows the order: LD_LIBRARY_PATH, linker cache, toolkit, venv, user, system site-packages, cache', async () => {
    const base = machine();
    const ld = lib(path.join(base.base, 'ld'));
    const linkerDir = path.join(base.base, 'linker');
    const linker = lib(linkerDir);
    const m = { ...base, find: (extra: NodeJS.ProcessEnv = {}) => findCublasLt({ env: { ...base.env, ...extra }, root: base.root, linkerDirs: async () => [linkerDir] }) };
    const cudaHome = lib(path.join(base.base, 'cuda-home/lib64'));
    const venvSite = path.join(base.base, 'venv/lib/python3.12/site-packages');
    const venv = lib(path.join(venvSite, 'nvidia/cu13/lib'));
    const user = lib(path.join(base.home, '.local/lib/python3.11/site-packages/torch/lib'));
    const system = lib(path.join(base.root, 'usr/lib/python3/dist-packages/nvidia/cu13/lib'));
    const cache = lib(path.join(base.home, '.cache/ovis-image/cublas13'));
    const all = { LD_LIBRARY_PATH: `/nonexistent:${path.dirname(ld)}`, CUDA_HOME: path.join(base.base, 'cuda-home'), VIRTUAL_ENV: path.join(base.base, 'venv') };
    expect((await m.find(all)).found).toMatchObject({ file: ld, place: 'LD_LIBRARY_PATH' });
    expect((await m.find({ ...all, LD_LIBRARY_PATH: '' })).found).toMatchObject({ file: linker, place: 'linker cache' });
    const noLinker = (extra: NodeJS.ProcessEnv) => findCublasLt({ env: { ...base.env, ...extra }, root: base.root, linkerDirs: async () => [] });
    expect((await noLinker({ ...all, LD_LIBRARY_PATH: '' })).found).toMatchObject({ file: cudaHome, place: 'CUDA toolkit' });
    expect((await noLinker({ VIRTUAL_ENV: all.VIRTUAL_ENV })).found).toMatchObject({ file: venv, place: 'Python site-packages' });
    expect((await noLinker({})).found?.file).toBe(user);
    const r = await findCublasLt({ env: { HOME: path.join(base.base, 'nohome'), XDG_CACHE_HOME: path.join(base.home, '.cache') }, root: base.root, linkerDirs: async () => [] });
    expect(r.found?.file).toBe(system);
    expect(r.looked.filter((l) => l.found)).toHaveLength(1);
    const onlyCache = await findCublasLt({ env: { HOME: path.join(base.base, 'nohome'), XDG_CACHE_HOME: path.join(base.home, '.cache') }, root: path.join(base.base, 'emptyroot'), linkerDirs: async () => [] });
    expect(onlyCache.found).toMatchObject({ file: cache, place: 'ovis-image cache' });
  });

  it('reads the version from the versioned file name, the wheel dist-info, or the setup record', async () => {
    const m = machine();
    const dir = path.join(m.root, 'usr/local/cuda/lib64');
    lib(dir, 'libcublasLt.so.13.0.2.14');
    symlinkSync('libcublasLt.so.13.0.2.14', path.join(dir, 'libcublasLt.so.13'));
    expect((await m.find()).found?.version).toBe('13.0.2.14');

    const m2 = machine();
    const site = path.join(m2.home, '.local/lib/python3.12/site-packages');
    lib(path.join(site, 'nvidia/cu13/lib'));
    mkdirSync(path.join(site, 'nvidia_cublas-13.1.1.3.dist-info'), { recursive: true });
    writeFileSync(path.join(site, 'nvidia_cublas-13.1.1.3.dist-info', 'METADATA'), 'Metadata-Version: 2.1\nName: nvidia-cublas\nVersion: 13.1.1.3\n');
    expect((await m2.find()).found?.version).toBe('13.1.1.3');

    const m3 = machine();
    const cache = path.join(m3.home, '.cache/ovis-image/cublas13');
    lib(cache);
    writeFileSync(path.join(cache, 'meta.json'), JSON.stringify({ version: '13.0.0.19' }));
    expect((await m3.find()).found).toMatchObject({ version: '13.0.0.19', place: 'ovis-image cache' });
  });

  it("reports CUDA 12's cuBLAS when no CUDA 13 one exists", async () => {
    const m = machine();
    const old = lib(path.join(m.home, '.local/lib/python3.10/site-packages/nvidia/cublas/lib'), 'libcublasLt.so.12');
    const r = await m.find();
    expect(r.found).toBeUndefined();
    expect(r.cuda12).toEqual([old]);
    expect(cublasMissingReason(r)).toContain(`only CUDA 12's cuBLAS was found (${old}), but this build needs CUDA 13's libcublasLt.so.13`);
  });
});

describe('the linker cache', () => {
  it('parses ldconfig -p lines by library name', () => {
    const text = '3 libs found in cache `/etc/ld.so.cache\'\n\tlibcublasLt.so.13 (libc6,x86-64) => /usr/lib/x86_64-linux-gnu/libcublasLt.so.13\n\tlibz.so.1 (libc6,x86-64) => /lib/libz.so.1\n';
    expect(parseLdconfig(text, ['libcublasLt.so.13'])).toEqual(['/usr/lib/x86_64-linux-gnu/libcublasLt.so.13']);
  });
});
