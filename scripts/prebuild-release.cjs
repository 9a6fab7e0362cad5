#!/usr/bin/env node
// `npm run release:build`, also the `prepack` step, so `npm pack` and `npm publish` make the complete
// package by themselves (dist/ comes from `prepare`, which npm runs on pack and publish): the CPU addon (prebuilds/, prebuildify --napi) and the CUDA addon
// (prebuilds-cuda/, from the one CUDA build in build-cuda/). A CPU prebuilt newer than every C++ source
// is reused. Without nvcc the pack fails, since a release without the CUDA addon is incomplete;
// OVIS_PACK_CPU_ONLY=1 packs the CPU addon alone (local experiments, never a release).
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const platformArch = `${process.platform}-${process.arch}`;

function run(what, command, args) {
  console.error(`release: ${what}`);
  const r = spawnSync(command, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) {
    console.error(`release: FAILED: ${what}`);
    process.exit(1);
  }
}

function newestSource() {
  let newest = fs.statSync(path.join(root, 'binding.gyp')).mtimeMs;
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  walk(path.join(root, 'cpp'));
  return newest;
}

function cpuPrebuilt() {
  const dir = path.join(root, 'prebuilds', platformArch);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')) : [];
  return files.length === 1 ? path.join(dir, files[0]) : undefined;
}

function hasNvcc() {
  const cudacxx = process.env.CUDACXX;
  if (cudacxx && fs.existsSync(cudacxx)) return true;
  if (fs.existsSync('/usr/local/cuda/bin/nvcc')) return true;
  return spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status === 0;
}

const cpu = cpuPrebuilt();
if (cpu && fs.statSync(cpu).mtimeMs > newestSource()) console.error(`release: CPU addon ${path.relative(root, cpu)} is up to date`);
else run('CPU addon (prebuildify --napi --strip)', 'npm', ['run', 'prebuilds']);

if (process.env.OVIS_PACK_CPU_ONLY === '1') {
  fs.rmSync(path.join(root, 'prebuilds-cuda'), { recursive: true, force: true });
  console.error('release: OVIS_PACK_CPU_ONLY=1: packing WITHOUT the CUDA addon (not a release)');
} else if (!hasNvcc()) {
  console.error('release: FAILED: nvcc (the CUDA 13 toolkit) is needed to build the CUDA addon the package ships; set OVIS_PACK_CPU_ONLY=1 to pack the CPU addon alone');
  process.exit(1);
} else {
  run('CUDA addon (npm run prebuilds:cuda: the build-cuda/ build, incremental)', process.execPath, [path.join(__dirname, 'prebuild-cuda.cjs')]);
}
