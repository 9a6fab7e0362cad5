/**
 * One list of error codes and one set of engine-option limits (issue 11): lib/error-codes.ts is the
 * source; the C++ sources, the README's table and the addon's checks must agree with it.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, isNativeCode } from '../lib/error-codes.js';
import { loadBinding, packageRoot } from '../lib/native/binding.js';
import { isDevice, MAX_DEVICE_DIGITS, MAX_THREADS, resolveThreads } from '../lib/native/engine-limits.js';
import { parseLoadOptions } from '../lib/pipeline/options.js';
import type { NativeEngine } from '../types/native.js';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) return name === 'tests' ? [] : sourceFiles(full);
    return /\.(cpp|h|cu|cuh)$/.test(name) ? [full] : [];
  });
}

/** Codes the C++ side raises: the quoted OVIS_... and ABORT_ERR strings that are not environment variable names. */
function cppCodes(): Set<string> {
  const codes = new Set<string>();
  for (const file of [...sourceFiles(path.join(packageRoot, 'cpp')), ...sourceFiles(path.join(packageRoot, 'cuda'))]) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(\w+\s*\(\s*)?"((?:OVIS|ABORT)_[A-Z_]+)"/g)) {
      if (/^(std::)?getenv|^env\s*\(/.test(m[1] ?? '')) continue;
      codes.add(m[2]!);
    }
  }
  return codes;
}

describe('error codes', () => {
  it('every code the C++ engine or addon raises is a native code of lib/error-codes.ts', () => {
    const found = cppCodes();
    expect(found.size).toBeGreaterThan(3);
    for (const code of found) expect(isNativeCode(code), code).toBe(true);
  });

  it("the README's error table lists exactly the codes of lib/error-codes.ts", () => {
    const readme = readFileSync(path.join(packageRoot, 'README.md'), 'utf8');
    const table = readme.slice(readme.indexOf('<!-- error-codes -->'), readme.indexOf('<!-- /error-codes -->'));
    const listed = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(Object.keys(ERROR_CODES));
  });
});

describe('engine option limits', () => {
  const header = readFileSync(path.join(packageRoot, 'cpp', 'addon', 'limits.h'), 'utf8');
  const constant = (name: string): number => Number(new RegExp(`${name} = (\\d+);`).exec(header)?.[1]);

  it('are the same numbers in TypeScript and in the addon', () => {
    expect(constant('kMaxThreads')).toBe(MAX_THREADS);
    expect(constant('kMaxDeviceDigits')).toBe(MAX_DEVICE_DIGITS);
  });

  it('the addon accepts exactly the device strings and thread counts TypeScript accepts', () => {
    const Engine = loadBinding('cpu').Engine as unknown as new (o: unknown) => NativeEngine;
    const accepts = (options: object): boolean => {
      try {
        void new Engine(options).dispose();
        return true;
      } catch {
        return false;
      }
    };
    const devices = ['cpu', 'cuda', 'cuda:0', 'cuda:7', 'cuda:999', 'cuda:1000', 'cuda:', 'cuda:-1', 'cuda:1.5', 'gpu', 'CPU', ' cpu', 'cuda:0 '];
    for (const device of devices) expect(accepts({ device, threads: 1 }), device).toBe(isDevice(device));
    for (const threads of [0, 1, MAX_THREADS, MAX_THREADS + 1, -1]) {
      expect(accepts({ device: 'cpu', threads }), String(threads)).toBe(threads >= 0 && threads <= MAX_THREADS);
    }
  });

  it('load caps threads at the core count and refuses what is out of range, naming the range', () => {
    expect(resolveThreads(1000, 2)).toBe(2);
    expect(resolveThreads(0, 8)).toBe(0);
    expect(resolveThreads(3, 8)).toBe(3);
    expect(parseLoadOptions({ threads: MAX_THREADS }).threads).toBe(resolveThreads(MAX_THREADS));
    expect(() => parseLoadOptions({ threads: MAX_THREADS + 1 })).toThrow(/load: 'threads' must be an integer in \[0, 1024\].*\(got 1025\)/);
    expect(() => parseLoadOptions({ device: 'cuda:1000' })).toThrow(/'device' must be 'auto', 'cpu', 'cuda' or 'cuda:N'/);
  });
});
