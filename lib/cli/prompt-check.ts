/**
 * Warns before generating, on stderr and even with --quiet, when a prompt is too long for the text
 * encoder: the user may want to stop and shorten it rather than wait for an image that ignores its end.
 */
import type { ModelFiles } from '../model/index.js';
import { MAX_TOKENS, PromptTokenizer } from '../tokenizer/index.js';
import { tokenizerDirOf } from './model-options.js';
import { PROGRAM_NAME } from './output.js';

export async function warnIfPromptTooLong(
  model: string | ModelFiles,
  prompts: { prompt: string; negativePrompt: string; guidanceScale: number },
  stderr: NodeJS.WritableStream,
): Promise<void> {
  let tokenizer: PromptTokenizer;
  try {
    const dir = await tokenizerDirOf(model);
    if (dir === undefined) return;
    tokenizer = await PromptTokenizer.load(dir);
  } catch {
    return; // loading the model reports what is wrong with it
  }
  const warn = (which: string, tokens: number): void => {
    stderr.write(`${PROGRAM_NAME}: warning: the ${which} is too long: its chat text has ${tokens} tokens, the model reads ${MAX_TOKENS}; the end will be cut off\n`);
  };
  const positive = tokenizer.encode(prompts.prompt);
  if (positive.truncated) warn('prompt', positive.tokenCount);
  // The negative prompt is read only with classifier-free guidance.
  if (prompts.guidanceScale <= 1) return;
  const negative = tokenizer.encode(prompts.negativePrompt);
  if (negative.truncated) warn('negative prompt', negative.tokenCount);
}
