/**
 * The package as an app meets it, from dist/ (built by `npm run build`, which `npm test` runs first):
 * require() from CommonJS, and typings that compile in a project without @types/node.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../lib/native/binding.js';

let app: string;

beforeAll(() => {
  app = mkdtempSync(path.join(tmpdir(), 'ovis-consumer-'));
  mkdirSync(path.join(app, 'node_modules'));
  symlinkSync(packageRoot, path.join(app, 'node_modules', 'ovis-image'), 'dir');
});
afterAll(() => rmSync(app, { recursive: true, force: true }));

const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
const requireEsm = major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19);

describe('module formats', () => {
  it.runIf(requireEsm)("require('ovis-image') works from a .cjs file (Node >= 20.19 / 22.12)", () => {
    const file = path.join(app, 'use.cjs');
    writeFileSync(
      file,
      `const { OvisImage, OvisError, AbortError, randn } = require('ovis-image');
       console.log(typeof OvisImage.load, typeof OvisError, typeof AbortError, randn([2], 1).length);`,
    );
    const r = spawnSync(process.execPath, [file], { encoding: 'utf8', cwd: app });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('function function function 2');
  });

  it('import works from an .mjs file', () => {
    const file = path.join(app, 'use.mjs');
    writeFileSync(file, `import { OvisImage } from 'ovis-image'; console.log(typeof OvisImage.load);`);
    expect(execFileSync(process.execPath, [file], { encoding: 'utf8', cwd: app }).trim()).toBe('function');
  });
});

describe("the README's first example", () => {
  it('runs as plain JavaScript on Node 20 (on the golden tiny model, small and short)', () => {
    const readme = readFileSync(path.join(packageRoot, 'README.md'), 'utf8');
    const block = /```js\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## API')))![1]!;
    expect(block).toContain('finally');
    const tiny = path.join(packageRoot, 'test', 'fixtures', 'golden', 'tiny-diffusers');
    const script = block
      .replace("'AIDC-AI/Ovis-Image-7B'", JSON.stringify(tiny))
      .replace('seed: 42 }', 'seed: 42, width: 32, height: 32, steps: 2 }')
      .replace("'hello.png'", JSON.stringify(path.join(app, 'hello.png')));
    expect(script).toContain(tiny);
    writeFileSync(path.join(app, 'first-example.mjs'), script);
    const r = spawnSync(process.execPath, [path.join(app, 'first-example.mjs')], { encoding: 'utf8', cwd: app });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(path.join(app, 'hello.png'))).toBe(true);
  }, 60_000);
});

describe('typings', () => {
  it('compile in a strict project with types: [] (no @types/node), device typed as a literal union', () => {
    writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: [], noEmit: true, skipLibCheck: false },
        files: ['app.mts'],
      }),
    );
    writeFileSync(
      path.join(app, 'app.mts'),
      `import { OvisImage, OvisError, randn, MAX_SEED, decodePng, type Device, type GenerateOptions, type LoadOptions } from 'ovis-image';
       const device: Device = 'cuda:1';
       const load: LoadOptions = { device, threads: 2, signal: AbortSignal.timeout(1000) };
       await using model = await OvisImage.load('./model', load);
       const options: GenerateOptions = { prompt: 'x', seed: 1n, signal: new AbortController().signal, onStep: (e) => void e.step };
       const result = await model.generate(options);
       const png: Uint8Array = await result.toPNG();
       decodePng(png);
       randn([1, 2], MAX_SEED);
       for await (const e of model.stream({ prompt: 'y' })) if (e.type === 'result') void e.result.seed;
       try { await model.dispose(); } catch (e) { if (e instanceof OvisError && e.code === 'OVIS_DISPOSED') void e.message; }
       // @ts-expect-error not a device
       const gpu: Device = 'gpu';
       void gpu;
       // @ts-expect-error not an option
       void ({ prompt: 'x', sed: 1 } satisfies GenerateOptions);
       `,
    );
    const tsc = path.join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', app], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 60_000);
});
