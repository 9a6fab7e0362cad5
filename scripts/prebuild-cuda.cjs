#!/usr/bin/env node
// `npm run prebuilds:cuda`: the CUDA addon for the package, prebuilds-cuda/<platform>-<arch>/ovis_image.node
// (the folder lib/native/addon-files.ts looks in). It is the addon of `npm run build:cuda`: this runs that
// build (incremental: nothing recompiles when CI built it already), then copies and strips the file, and
// lists the GPU code in it (cuobjdump) so a release shows which archs it covers.
'use strict';
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const built = path.join(root, 'build-cuda', 'ovis_image.node');
const dest = path.join(root, 'prebuilds-cuda', `${process.platform}-${process.arch}`, 'ovis_image.node');

function fail(message) {
  console.error(`prebuild-cuda: FAILED: ${message}`);
  process.exit(1);
}

const build = spawnSync(process.execPath, [path.join(__dirname, 'build-cuda.cjs')], { stdio: 'inherit' });
if (build.status !== 0) fail('npm run build:cuda failed (see above)');
if (!fs.existsSync(built)) fail(`the build did not produce ${built}`);

fs.mkdirSync(path.dirname(dest), { recursive: true });
fs.copyFileSync(built, dest);
const strip = spawnSync('strip', ['--strip-all', dest], { stdio: 'inherit' });
if (strip.status !== 0) console.error('prebuild-cuda: strip failed; the binary keeps its symbols');

const cuobjdump = ['cuobjdump', '/usr/local/cuda/bin/cuobjdump'].find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
try {
  if (!cuobjdump) throw new Error('no cuobjdump');
  const sass = execFileSync(cuobjdump, ['--list-elf', dest], { encoding: 'utf8' }).match(/sm_\d+a?/g) ?? [];
  const ptx = execFileSync(cuobjdump, ['--list-ptx', dest], { encoding: 'utf8' }).match(/sm_\d+a?/g) ?? [];
  console.error(`prebuild-cuda: GPU code: SASS ${[...new Set(sass)].join(' ')}; PTX ${[...new Set(ptx)].join(' ')}`);
} catch {
  console.error('prebuild-cuda: cuobjdump not found: GPU code not listed');
}
console.error(`prebuild-cuda: wrote ${path.relative(root, dest)} (${(fs.statSync(dest).size / 2 ** 20).toFixed(1)} MiB)`);
