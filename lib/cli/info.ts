import type { Command } from 'commander';
import { describeConfigSource, formatPlanText, resolveModel, type ResolvedModel, type WeightsComponent } from '../model/index.js';
import { scanWeights } from '../model/weight-scan.js';
import { formatBackendInfo, selectBackend, type BackendInfo } from '../native/index.js';
import { addModelOptions, localModel, modelFromOptions, type ModelOptionValues } from './model-options.js';
import { withInterrupt } from './interrupt.js';
import { CliFailure } from './output.js';

interface InfoOptions extends ModelOptionValues {
  json?: boolean;
  tensors?: boolean;
  plan?: boolean;
  check?: boolean;
}

function count(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}

function size(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

function configText(config: object | undefined): string {
  if (!config) return '';
  return Object.entries(config)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ');
}

function weightsLines(title: string, c: WeightsComponent<object>): string[] {
  if (!c.present) return [`${title}: not usable${c.files.length ? ` (${c.files.join(', ')})` : ''}`];
  return [
    `${title}: ${c.format} keys${c.keyPrefix ? ` (prefix '${c.keyPrefix}')` : ''}, ${c.dtypes.join('/')}, ${count(c.parameters)} parameters in ${c.tensorCount} tensors, ${size(c.bytes)}`,
    ...c.files.map((f) => `  file: ${f}`),
    ...(c.dequantized.length ? [`  dequantized to f32 at load (pieces in different block formats): ${c.dequantized.join(', ')}`] : []),
    `  config (${describeConfigSource(c.configSource)}): ${configText(c.config)}`,
  ];
}

function infoText(m: ResolvedModel, withTensors: boolean, backend: BackendInfo | { error: string }): string {
  const { transformer, textEncoder, vae, tokenizer, scheduler } = m.components;
  const lines = [
    `model: ${m.root ?? '(split files)'}`,
    `layout: ${m.layout}`,
    ...weightsLines('transformer', transformer),
    ...weightsLines('text encoder', textEncoder),
    ...weightsLines('vae', vae),
    ...(vae.present ? [`  encoder: ${vae.hasEncoder ? 'yes' : 'no (decode only)'}`] : []),
    tokenizer.present ? `tokenizer: ${tokenizer.tokenizerJson}\n  chat template: ${tokenizer.chatTemplateSource}` : `tokenizer: not usable${tokenizer.dir ? ` (${tokenizer.dir})` : ''}`,
    `scheduler (${describeConfigSource(scheduler.configSource)}): ${configText(scheduler.config)}`,
  ];
  if (withTensors) {
    lines.push(`tensors (${m.plan.tensors.length}):`, ...m.plan.tensors.map((t) => `  ${t.name} ${t.dtype} [${t.shape.join(', ')}]`));
  }
  lines.push(m.problems.length ? `problems (${m.problems.length}):` : 'problems: none');
  for (const p of m.problems) lines.push(`  ${p.code}: ${p.message}`);
  lines.push(backendLine(backend));
  return lines.join('\n') + '\n';
}

/** What device 'auto' would run on here, and why; or why no addon can be loaded at all. */
async function autoBackend(): Promise<BackendInfo | { error: string }> {
  try {
    return (await selectBackend('auto')).info;
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

function backendLine(b: BackendInfo | { error: string }): string {
  return 'error' in b ? `backend (device auto): none: ${b.error}` : `backend (device auto): ${formatBackendInfo(b)}`;
}

function infoJson(m: ResolvedModel, backend: BackendInfo | { error: string }): string {
  return JSON.stringify(
    {
      layout: m.layout,
      root: m.root ?? null,
      components: m.components,
      config: Object.fromEntries(m.plan.config.map((e) => [e.key, e.value])),
      tensors: m.plan.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })),
      problems: m.problems,
      backend,
    },
    null,
    2,
  ) + '\n';
}

export function registerInfo(program: Command): void {
  const command = program.command('info').description('show the layout, configs, parameter counts and any problem of a model');
  addModelOptions(command)
    .option('--json', 'print JSON')
    .option('--tensors', 'list the canonical tensors')
    .option('--plan', 'print the weight plan text (docs/WEIGHTS.md)')
    .option('--check', 'also read every weight and report tensors holding NaN or Inf (reads the whole model)')
    .action(async (options: InfoOptions) => {
      const source = modelFromOptions(options);
      const model = await resolveModel(await withInterrupt((signal) => localModel(source, { cacheDir: options.cacheDir, signal })));
      if (options.check) for (const p of await scanWeights(model.plan)) model.problems.push(p);
      const backend = options.plan ? undefined : await autoBackend();
      process.stdout.write(options.plan ? formatPlanText(model.plan) : options.json ? infoJson(model, backend!) : infoText(model, options.tensors === true, backend!));
      const first = model.problems[0];
      if (first) throw new CliFailure(`${model.problems.length} problem(s) in the model; first: ${first.message}`);
    });
}
