/**
 * The keepTextEncoder option, from OvisImage.load / the CLI down to the addon: validation, plumbing,
 * and on the CPU, releasing the text encoder after each encode (false) gives byte-identical results
 * to keeping it (true) on the golden tiny model. Needs the CPU addon.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerGenerateCommand } from '../lib/cli/generate.js';
import { OvisError } from '../lib/errors.js';
import { loadBinding } from '../lib/native/binding.js';
import { NativeModelEngine, type NativeModelEngineOptions } from '../lib/native/engine.js';
import { OvisImage } from '../lib/ovis-image.js';
import { parseLoadOptions, type LoadOptions } from '../lib/pipeline/options.js';
import type { NativeBinding, NativeEngineOptions, NativeGenerateResult } from '../types/native.js';
import { TINY_DIFFUSERS, tinyPlanText, tinyRequest } from './native-helpers.js';
import { makeModel } from './pipeline-fakes.js';
import { pipelineCase, pipelineOptions } from './helpers/golden-manifest.js';


function invalidOptions(fn: () => unknown): OvisError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OvisError);
    expect((e as OvisError).code).toBe('OVIS_INVALID_OPTIONS');
    return e as OvisError;
  }
  throw new Error('expected OVIS_INVALID_OPTIONS');
}

/** The CPU addon, with every Engine constructor's options recorded. */
function recordingBinding(): { binding: NativeBinding; seen: NativeEngineOptions[] } {
  const real = loadBinding('cpu');
  const seen: NativeEngineOptions[] = [];
  const Engine = function (options: NativeEngineOptions) {
    seen.push({ ...options });
    return new real.Engine(options);
  } as unknown as NativeBinding['Engine'];
  return { binding: { ...real, Engine }, seen };
}

const sameBytes = (a: Float32Array, b: Float32Array): boolean =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

afterEach(() => {
  vi.restoreAllMocks();
});

describe('keepTextEncoder validation', () => {
  it('is optional and passes booleans through', () => {
    expect(parseLoadOptions({}).keepTextEncoder).toBeUndefined();
    expect(parseLoadOptions({ keepTextEncoder: false }).keepTextEncoder).toBe(false);
    expect(parseLoadOptions({ keepTextEncoder: true }).keepTextEncoder).toBe(true);
  });

  it('rejects other types with OVIS_INVALID_OPTIONS naming the field', () => {
    for (const bad of ['no', 0, 1, null, {}]) {
      const err = invalidOptions(() => parseLoadOptions({ keepTextEncoder: bad }));
      expect(err.message).toMatch(/'keepTextEncoder'/);
      expect(err.message).toMatch(/boolean/);
    }
  });

  it('OvisImage.load rejects a wrong type before loading anything', async () => {
    const create = vi.spyOn(NativeModelEngine, 'create');
    const err = await OvisImage.load(TINY_DIFFUSERS, { device: 'cpu', keepTextEncoder: 'yes' as never }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OvisError);
    expect((err as OvisError).code).toBe('OVIS_INVALID_OPTIONS');
    expect((err as OvisError).message).toMatch(/'keepTextEncoder'.*got "yes"/);
    expect(create).not.toHaveBeenCalled();
  });

  it('the addon rejects a non-boolean with OVIS_BAD_ARGUMENT naming options.keepTextEncoder', () => {
    const binding = loadBinding('cpu');
    let err: (Error & { code?: string }) | undefined;
    try {
      new binding.Engine({ device: 'cpu', threads: 1, fp32: false, keepTextEncoder: 1 as never });
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('OVIS_BAD_ARGUMENT');
    expect(err?.message).toMatch(/options\.keepTextEncoder/);
  });
});

describe('keepTextEncoder plumbing', () => {
  it('NativeModelEngine.create hands it to the addon only when set', async () => {
    const { binding, seen } = recordingBinding();
    const plan = await tinyPlanText();
    for (const keep of [true, false, undefined]) {
      const options: NativeModelEngineOptions = { device: 'cpu', threads: 1, binding };
      if (keep !== undefined) options.keepTextEncoder = keep;
      const engine = await NativeModelEngine.create(plan, options);
      await engine.dispose();
    }
    expect(seen.map((o) => o.keepTextEncoder)).toEqual([true, false, undefined]);
    expect('keepTextEncoder' in seen[2]!).toBe(false);
  });

  it('OvisImage.load passes it to the engine', async () => {
    const create = vi.spyOn(NativeModelEngine, 'create');
    for (const keep of [false, undefined]) {
      const options: LoadOptions = { device: 'cpu', threads: 1 };
      if (keep !== undefined) options.keepTextEncoder = keep;
      const model = await OvisImage.load(TINY_DIFFUSERS, options);
      await model.dispose();
    }
    expect(create).toHaveBeenCalledTimes(2);
    expect(create.mock.calls[0]![1]).toMatchObject({ device: 'cpu', keepTextEncoder: false });
    expect(create.mock.calls[1]![1]).not.toHaveProperty('keepTextEncoder');
  });

  class Sink extends Writable {
    override _write(_chunk: Buffer, _enc: string, done: () => void): void {
      done();
    }
  }

  it('the CLI maps --keep-text-encoder / --no-keep-text-encoder onto the load option', async () => {
    const seen: LoadOptions[] = [];
    const dir = await mkdtemp(path.join(tmpdir(), 'ovis-keep-text-'));
    try {
      for (const flag of ['--keep-text-encoder', '--no-keep-text-encoder', undefined]) {
        const program = new Command().exitOverride();
        registerGenerateCommand(program, {
          stdout: new Sink(),
          stderr: new Sink(),
          loadModel: async (_model, options) => {
            seen.push(options);
            return makeModel().model;
          },
        });
        const out = path.join(dir, `out-${seen.length}.png`);
        const args = ['generate', '-m', 'fake-model', '-p', 'x', '--width', '16', '--height', '16', '--steps', '1', '-q', '-o', out];
        await program.parseAsync(flag ? [...args, flag] : args, { from: 'user' });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(seen.map((o) => o.keepTextEncoder)).toEqual([true, false, undefined]);
  });
});

describe('keepTextEncoder: false on the CPU gives the same bytes as true (golden tiny model)', () => {
  it('through the native engine, over repeated generations', async () => {
    const plan = await tinyPlanText();
    const results = new Map<boolean, NativeGenerateResult[]>();
    for (const keep of [true, false]) {
      const engine = await NativeModelEngine.create(plan, { device: 'cpu', threads: 2, keepTextEncoder: keep });
      try {
        const runs: NativeGenerateResult[] = [];
        // Second run: the released weights were reloaded. Third: another prompt after that.
        runs.push(await engine.generate(tinyRequest({ steps: 2, side: 32, guidance: 3 })));
        runs.push(await engine.generate(tinyRequest({ steps: 2, side: 32, guidance: 3 })));
        const other = tinyRequest({ steps: 2, side: 16, guidance: 4, seed: 9 });
        other.ids = other.ids.map((id, i) => id + 11 * i);
        runs.push(await engine.generate(other));
        results.set(keep, runs);
      } finally {
        await engine.dispose();
      }
    }
    const kept = results.get(true)!;
    const released = results.get(false)!;
    for (let i = 0; i < kept.length; i++) {
      const k = kept[i]!;
      const r = released[i]!;
      expect(sameBytes(r.promptEmbeds.data, k.promptEmbeds.data), `run ${i} prompt embeds`).toBe(true);
      expect(sameBytes(r.negativeEmbeds!.data, k.negativeEmbeds!.data), `run ${i} negative embeds`).toBe(true);
      expect(sameBytes(r.latents.data, k.latents.data), `run ${i} latents`).toBe(true);
      expect(sameBytes(r.image.data, k.image.data), `run ${i} image`).toBe(true);
      expect(r.image.shape).toEqual(k.image.shape);
    }
    // The runs differ from each other where the inputs do (the comparison above is not vacuous).
    expect(sameBytes(kept[0]!.image.data, kept[2]!.image.data)).toBe(false);
    expect(sameBytes(kept[0]!.image.data, kept[1]!.image.data)).toBe(true);
  });

  it('through OvisImage.load + generate on the golden pipeline cases', async () => {
    const outputs = new Map<boolean, { image: Uint8Array; latents: Float32Array; steps: Float32Array[] }[]>();
    for (const keep of [true, false]) {
      const model = await OvisImage.load(TINY_DIFFUSERS, { device: 'cpu', threads: 2, keepTextEncoder: keep });
      try {
        const runs = [];
        for (const id of ['p1', 'p2', 'p1']) {
          const c = pipelineCase(id);
          const steps: Float32Array[] = [];
          const r = await model.generate({
            ...pipelineOptions(c),
            reportLatents: true,
            onStep: (e) => steps.push(e.latents!.slice()),
          });
          runs.push({ image: r.image.data, latents: r.latents, steps });
        }
        outputs.set(keep, runs);
      } finally {
        await model.dispose();
      }
    }
    const kept = outputs.get(true)!;
    const released = outputs.get(false)!;
    expect(released.length).toBe(3);
    for (let i = 0; i < kept.length; i++) {
      expect(Buffer.from(released[i]!.image).equals(Buffer.from(kept[i]!.image)), `run ${i} image`).toBe(true);
      expect(sameBytes(released[i]!.latents, kept[i]!.latents), `run ${i} latents`).toBe(true);
      expect(released[i]!.steps.length).toBe(kept[i]!.steps.length);
      kept[i]!.steps.forEach((s, j) => expect(sameBytes(released[i]!.steps[j]!, s), `run ${i} step ${j}`).toBe(true));
    }
  });
});
