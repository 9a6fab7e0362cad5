#!/usr/bin/env node
// A node-gyp stand-in for prebuildify (`--node-gyp`): prebuildify has no cmake-js backend (DESIGN.md
// decision 6). It turns `rebuild --target=V --arch=A --release|--debug` into a cmake-js build of the
// CUDA addon target `ovis_image` (root CMakeLists.txt, -DOVIS_CUDA=ON) whose .node lands in
// <cwd>/build/<Config>/, where prebuildify looks for it.
//   OVIS_CUDA_ARCHS        CUDA architectures (default: the CMakeLists.txt default)
//   OVIS_CUBLAS_INCLUDE    folder holding cublasLt.h (default: auto-detected by cmake/cuda.cmake)
//   OVIS_CUDA_INCREMENTAL=1  `build` instead of `rebuild` (reuse the previous configure; faster)
//   JOBS                   parallel compile jobs (default 2)
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const args = process.argv.slice(2);
const command = args.find((a) => !a.startsWith('-')) || 'rebuild';
if (command !== 'rebuild' && command !== 'build') {
  console.error(`cmake-js-shim: only "rebuild" and "build" are supported (got "${command}")`);
  process.exit(2);
}
const option = (name) => {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  return hit === undefined ? undefined : hit.slice(name.length + 3);
};

const root = path.resolve(__dirname, '..');
const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json', { paths: [root] })), 'bin', 'cmake-js');
const config = args.includes('--debug') ? 'Debug' : 'Release';
const env = process.env;
const cmakeArgs = [
  cmakeJs,
  command === 'rebuild' && env.OVIS_CUDA_INCREMENTAL !== '1' ? 'rebuild' : 'build',
  '--directory', root,
  '--out', path.resolve(process.cwd(), 'build'),
  '--config', config,
  '--runtime', 'node',
  '--runtime-version', option('target') || process.versions.node,
  '--arch', option('arch') || process.arch,
  '--parallel', String(env.JOBS && /^\d+$/.test(env.JOBS) ? env.JOBS : 2),
  '--target', 'ovis_image',
  '--CDOVIS_CUDA=ON',
  '--CDOVIS_TESTS=OFF',
  '--CDOVIS_BENCH=OFF',
];
if (env.OVIS_CUDA_ARCHS) cmakeArgs.push(`--CDOVIS_CUDA_ARCHS=${env.OVIS_CUDA_ARCHS}`);
if (env.OVIS_CUBLAS_INCLUDE) cmakeArgs.push(`--CDOVIS_CUBLAS_INCLUDE=${env.OVIS_CUBLAS_INCLUDE}`);

console.error(`cmake-js-shim: node ${cmakeArgs.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`);
const r = spawnSync(process.execPath, cmakeArgs, { stdio: 'inherit' });
if (r.error) {
  console.error(`cmake-js-shim: ${r.error.message}`);
  process.exit(1);
}
process.exit(r.status === null ? 1 : r.status);
