/** Facts about this machine for `ovis-image doctor`: Node, N-API, glibc, and the CPU features the CPU backend uses. */
import { readFile } from 'node:fs/promises';
import os from 'node:os';

export interface SystemFacts {
  node: string;
  napi: string | undefined;
  platform: string;
  glibc: string | undefined;
  cpu: { model: string; cores: number; features: Record<string, boolean> | undefined };
}

/** The CPU backend's vector path needs AVX2 and FMA (cpp/cpu/simd/cpu_features.cpp); F16C and AVX-512F are listed for context. */
export const CPU_FEATURES = ['avx2', 'fma', 'f16c', 'avx512f'] as const;

async function cpuFlags(): Promise<Set<string> | undefined> {
  const text = await readFile('/proc/cpuinfo', 'utf8').catch(() => undefined);
  const line = text?.split('\n').find((l) => /^(flags|Features)\s*:/.test(l));
  return line ? new Set(line.split(':')[1]!.trim().split(/\s+/)) : undefined;
}

function glibcVersion(): string | undefined {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime;
}

export async function systemFacts(): Promise<SystemFacts> {
  const flags = await cpuFlags();
  return {
    node: process.version,
    napi: process.versions.napi,
    platform: `${process.platform}-${process.arch}`,
    glibc: glibcVersion(),
    cpu: {
      model: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      features: flags && process.arch === 'x64' ? Object.fromEntries(CPU_FEATURES.map((f) => [f, flags.has(f)])) : undefined,
    },
  };
}
