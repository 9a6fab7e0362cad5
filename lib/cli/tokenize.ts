import type { Command } from 'commander';
import { ModelLoadError } from '../errors.js';
import { PromptTokenizer, MAX_TOKENS } from '../tokenizer/index.js';
import { withInterrupt } from './interrupt.js';
import { addModelOptions, localModel, modelFromOptions, tokenizerDirOf, type ModelOptionValues } from './model-options.js';
import { printWarning } from './output.js';

interface TokenizeOptions extends ModelOptionValues {
  prompt: string;
}

export function registerTokenize(program: Command): void {
  const command = program.command('tokenize').description("print a prompt's token ids and mask as the text encoder gets them");
  addModelOptions(command)
    .requiredOption('-p, --prompt <text>', 'the prompt')
    .action(async (options: TokenizeOptions) => {
      const source = modelFromOptions(options, []);
      const model = await withInterrupt((signal) => localModel(source, { cacheDir: options.cacheDir, signal }));
      // only the tokenizer is needed: find its folder without reading any weights
      const dir = await tokenizerDirOf(model);
      if (!dir) throw new ModelLoadError('MODEL_MISSING_COMPONENT', 'no tokenizer found for this model (pass --tokenizer <dir>)');
      const out = (await PromptTokenizer.load(dir)).encode(options.prompt);
      if (out.truncated) printWarning(`the prompt was truncated: its chat text has ${out.tokenCount} tokens, the model reads ${MAX_TOKENS}`);
      process.stdout.write(JSON.stringify({ input_ids: Array.from(out.inputIds), attention_mask: Array.from(out.attentionMask), truncated: out.truncated }) + '\n');
    });
}
