#!/usr/bin/env node
// `npm run build:cuda`: the ONE CUDA build of a clone or CI run. One CMake tree (build-cuda/) holds the
// engine, the CUDA tests, the GPU bench AND the CUDA addon (build-cuda/ovis_image.node), so the .cu files
// compile once; `npm run prebuilds:cuda` (and `npm pack`) only copy the addon from here.
// Plain CMake, no cmake-js: the addon uses N-API only, whose headers come from the node-api-headers
// package (no download). An existing build-cuda/ is built incrementally.
//   OVIS_CUDA_ARCHS      CUDA architectures (default: CMakeLists.txt, the release list)
//   OVIS_CUBLAS_INCLUDE  folder holding cublasLt.h (default: scripts/ensure-cublas.sh finds or installs it)
//   JOBS                 parallel compile jobs (default 2)
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build-cuda');
const jobs = /^\d+$/.test(process.env.JOBS || '') ? process.env.JOBS : '2';

function cublasInclude() {
  if (process.env.OVIS_CUBLAS_INCLUDE) return process.env.OVIS_CUBLAS_INCLUDE;
  try {
    return execFileSync('bash', [path.join(root, 'scripts', 'ensure-cublas.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  } catch {
    console.error('build-cuda: scripts/ensure-cublas.sh failed; cmake will look for cublasLt.h itself');
    return '';
  }
}

function run(args) {
  console.error(`build-cuda: cmake ${args.join(' ')}`);
  const r = spawnSync('cmake', args, { stdio: 'inherit', cwd: root });
  if (r.error) throw new Error(`cmake could not be started: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`cmake ${args[0]} failed (exit code ${r.status})`);
}

function main() {
  const configure = ['-S', root, '-B', buildDir, '-DCMAKE_BUILD_TYPE=Release', '-DOVIS_CUDA=ON', `-DCMAKE_JS_INC=${require('node-api-headers').include_dir}`];
  if (process.env.OVIS_CUDA_ARCHS) configure.push(`-DOVIS_CUDA_ARCHS=${process.env.OVIS_CUDA_ARCHS}`);
  const inc = cublasInclude();
  if (inc) configure.push(`-DOVIS_CUBLAS_INCLUDE=${inc}`);
  const started = Date.now();
  run(configure);
  run(['--build', buildDir, '-j', jobs]);
  console.error(`build-cuda: done in ${((Date.now() - started) / 1000).toFixed(0)} s; addon: ${path.relative(root, path.join(buildDir, 'ovis_image.node'))}`);
}

try {
  main();
} catch (err) {
  console.error(`build-cuda: FAILED: ${err.message}`);
  process.exit(1);
}
