/**
 * Checks a chat template once, at load, before any prompt goes through it: it must render a prompt
 * of the largest accepted length within a time limit, without throwing, into bounded text that
 * contains the prompt.
 *
 * Why a worker thread: a template is a program (loops, recursion), and a looping one rendered on the
 * main thread would block the process for good, out of reach of any AbortSignal. The worker can be
 * terminated. Generations then render synchronously on the caller's thread (cheap: a few ms for a
 * template that passed this check with the longest prompt), with the output size bounded again.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ModelLoadError } from '../errors.js';
import { MAX_PROMPT_CHARS } from './limits.js';

/** Time a template may take to render the longest prompt, at load. */
export const TEMPLATE_TIME_LIMIT_MS = 5_000;
/** Most characters a rendered chat text may have (the longest prompt plus ample room for the template's own text). */
export const MAX_CHAT_TEXT_CHARS = MAX_PROMPT_CHARS + 100_000;

const require = createRequire(import.meta.url);
// The ES module build of @huggingface/jinja, imported by URL inside the worker.
const jinjaUrl = pathToFileURL(require.resolve('@huggingface/jinja')).href.replace(/index\.cjs$/, 'index.js');

/** Runs in the worker: renders workerData.template with workerData.context, posts { text } or { error }. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.jinjaUrl).then(({ Template }) => {
  try {
    const text = new Template(workerData.template).render(workerData.context);
    parentPort.postMessage({ text: typeof text === 'string' ? text : String(text) });
  } catch (err) {
    parentPort.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
}, (err) => parentPort.postMessage({ error: 'cannot load the template engine: ' + err.message }));
`;

type Outcome = { text: string } | { error: string } | { timeout: true };

function renderInWorker(template: string, context: object, limitMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { jinjaUrl, template, context } });
    const timer = setTimeout(() => {
      resolve({ timeout: true });
      void worker.terminate();
    }, limitMs);
    const finish = (outcome: Outcome): void => {
      clearTimeout(timer);
      resolve(outcome);
      void worker.terminate();
    };
    worker.once('message', (m: Outcome) => finish(m));
    worker.once('error', (err) => finish({ error: err.message }));
    worker.once('exit', (code) => finish({ error: `the template worker exited (code ${code})` }));
  });
}

/** The context generations render with (prompt-tokenizer.ts uses the same shape). */
export function chatContext(content: string): Record<string, unknown> {
  return { messages: [{ role: 'user', content }], add_generation_prompt: true, enable_thinking: false };
}

const checked = new Set<string>();

/**
 * Throws ModelLoadError('MODEL_BAD_CONFIG') naming `source` when the template loops (past the time
 * limit), throws, renders nothing of the prompt, or renders too much. Each template text is checked
 * once per process.
 */
export async function checkChatTemplate(template: string, source: string, limitMs = TEMPLATE_TIME_LIMIT_MS): Promise<void> {
  if (checked.has(template)) return;
  const bad = (why: string): ModelLoadError => new ModelLoadError('MODEL_BAD_CONFIG', `${source}: unusable chat template: ${why}`, { file: source });
  if (template.trim() === '') throw bad('it is empty');
  // The longest accepted prompt, ending in a marker the output must contain.
  const marker = 'OVIS_TEMPLATE_CHECK';
  const prompt = 'a '.repeat((MAX_PROMPT_CHARS - marker.length) >> 1) + marker;
  const outcome = await renderInWorker(template, chatContext(prompt), limitMs);
  if ('timeout' in outcome) throw bad(`rendering a ${MAX_PROMPT_CHARS}-character prompt took over ${limitMs / 1000} s (does it loop?)`);
  if ('error' in outcome) throw bad(`rendering a prompt throws: ${outcome.error}`);
  if (outcome.text.length > MAX_CHAT_TEXT_CHARS) throw bad(`it renders ${outcome.text.length} characters, over the limit of ${MAX_CHAT_TEXT_CHARS}`);
  if (!outcome.text.includes(marker)) throw bad('its output does not contain the prompt (the prompt would be dropped)');
  checked.add(template);
}
