#!/usr/bin/env node
// `npm run prebuilds:cuda`: builds the CUDA addon with prebuildify driving cmake-js through
// scripts/cmake-js-shim.cjs, and puts it in prebuilds-cuda/<platform>-<arch>/ovis_image.node, the
// folder lib/native/addon-files.ts looks in. The cmake build tree stays in build-cuda-addon/.
// Needs the CUDA 13 toolkit (nvcc) and cublasLt.h (scripts/ensure-cublas.sh finds or installs it).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const prebuildify = require('prebuildify');

const root = path.resolve(__dirname, '..');
const staging = path.join(root, 'build-cuda-addon');
const platformArch = `${process.platform}-${process.arch}`;
const dest = path.join(root, 'prebuilds-cuda', platformArch, 'ovis_image.node');

if (!process.env.OVIS_CUBLAS_INCLUDE) {
  try {
    const dir = execFileSync('bash', [path.join(root, 'scripts', 'ensure-cublas.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    if (dir) process.env.OVIS_CUBLAS_INCLUDE = dir;
  } catch {
    console.error('prebuild-cuda: scripts/ensure-cublas.sh failed; cmake will look for cublasLt.h itself');
  }
}

// prebuildify names its output after the package.json in its cwd and looks for the build in <cwd>/build/Release.
fs.mkdirSync(staging, { recursive: true });
fs.writeFileSync(path.join(staging, 'package.json'), JSON.stringify({ name: 'ovis_image', private: true }) + '\n');

prebuildify(
  {
    cwd: staging,
    out: staging,
    napi: true,
    strip: true,
    targets: [process.versions.node],
    nodeGyp: path.join(root, 'scripts', 'cmake-js-shim.cjs'),
  },
  (err) => {
    if (err) {
      console.error(`prebuild-cuda: FAILED: ${err.message || err}`);
      process.exit(1);
    }
    const built = path.join(staging, 'prebuilds', platformArch, 'ovis_image.node');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.renameSync(built, dest);
    console.error(`prebuild-cuda: wrote ${path.relative(root, dest)}`);
  },
);
