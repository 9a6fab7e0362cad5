/**
 * Where the two addon variants live. DESIGN.md decision 6: node-gyp-build cannot tell a CPU build from
 * a CUDA build, so the CUDA one has folders of its own and this package chooses between them.
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const nodeGypBuild = require('node-gyp-build') as { resolve: (dir: string) => string };

/** The package root (package.json, binding.gyp, prebuilds/): dist/native/*.js sit two folders below it. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The CUDA addon's file name in every folder below. */
export const CUDA_ADDON_FILE = 'ovis_image.node';

/** Where `npm run prebuilds:cuda` (and `npm pack`) put the CUDA addon: shipped in the package. */
export function cudaPrebuildPath(root = packageRoot): string {
  return path.join(root, 'prebuilds-cuda', `${process.platform}-${process.arch}`, CUDA_ADDON_FILE);
}

/** Where `npm run build:cuda` builds it in a clone (scripts/build-cuda.cjs). */
export function cudaBuildPath(root = packageRoot): string {
  return path.join(root, 'build-cuda', CUDA_ADDON_FILE);
}

/**
 * CUDA addon files to try, first match wins: $OVIS_IMAGE_CUDA_ADDON (a .node file or its folder),
 * $OVIS_IMAGE_CUDA_ADDON_DIR (a folder), then build-cuda/ (a build in this clone, as build/Release
 * wins for the CPU addon), then the shipped prebuilds-cuda/<platform>-<arch>/.
 */
export function cudaAddonCandidates(env: NodeJS.ProcessEnv = process.env, root = packageRoot): string[] {
  const out: string[] = [];
  for (const value of [env.OVIS_IMAGE_CUDA_ADDON, env.OVIS_IMAGE_CUDA_ADDON_DIR]) {
    if (!value) continue;
    const p = path.resolve(value);
    const isDir = existsSync(p) && statSync(p).isDirectory();
    out.push(isDir ? path.join(p, CUDA_ADDON_FILE) : p);
  }
  out.push(cudaBuildPath(root), cudaPrebuildPath(root));
  return out;
}

/** Where the CPU addon came from: a shipped prebuild or a node-gyp build on this machine. */
export type CpuAddonSource = 'prebuilt' | 'built from source';

/**
 * The CPU addon file, as node-gyp-build finds it: build/Release (a local build, which is what a
 * from-source install or `npm run build:native` makes) before prebuilds/<platform>-<arch>/.
 * Throws node-gyp-build's error, which lists the folders searched, when there is none.
 */
export function cpuAddonPath(root = packageRoot): { file: string; source: CpuAddonSource } {
  const file = nodeGypBuild.resolve(root);
  const prebuilds = path.join(root, 'prebuilds') + path.sep;
  return { file, source: file.startsWith(prebuilds) ? 'prebuilt' : 'built from source' };
}
