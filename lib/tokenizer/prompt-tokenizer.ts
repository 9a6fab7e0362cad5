import { Template } from '@huggingface/jinja';
import type { Tokenizer } from '@huggingface/tokenizers';
import { ModelLoadError, OvisError } from '../errors.js';
import { locateTokenizerFiles } from './files.js';
import { chatContext, checkChatTemplate, MAX_CHAT_TEXT_CHARS } from './template-check.js';
import { cachedTokenizer } from './tokenizer-cache.js';

export { MAX_PROMPT_CHARS } from './limits.js';

/** Fixed text put before every prompt (the reference pipeline's system text). */
export const SYSTEM_PROMPT =
  'Describe the image by detailing the color, quantity, text, shape, size, texture, spatial relationships of the objects and background: ';
/** Token rows the text encoder sees; longer chat texts are cut (their tail too, as the reference does). */
export const MAX_TOKENS = 284;
/** `<|im_start|>user\n` + the system text up to its colon: dropped after encoding. */
export const PREFIX_TOKENS = 28;
/** `<|endoftext|>`, the pad token of Qwen3's tokenizer. */
export const PAD_TOKEN_ID = 151643;

export interface EncodedPrompt {
  inputIds: Int32Array; // MAX_TOKENS ids, right-padded
  attentionMask: Int32Array; // 1 on real tokens, 0 on padding
  truncated: boolean; // the chat text had more than MAX_TOKENS tokens
  tokenCount: number; // tokens before truncation
}

/** The model's own tokenizer and chat template, turning a prompt into the text encoder's input. */
export class PromptTokenizer {
  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly template: Template,
    readonly padTokenId: number,
  ) {}

  /**
   * Loads tokenizer.json (parsed once per file and process) and the chat template from a folder (or
   * from tokenizer.json's path). The template is checked first (template-check.ts): one that loops,
   * throws, renders too much or drops the prompt is a ModelLoadError('MODEL_BAD_CONFIG') naming its file.
   */
  static async load(dir: string): Promise<PromptTokenizer> {
    const files = await locateTokenizerFiles(dir);
    let template: Template;
    try {
      template = new Template(files.chatTemplate);
    } catch (err) {
      throw new ModelLoadError('MODEL_BAD_CONFIG', `${files.chatTemplateSource}: cannot parse the chat template: ${(err as Error).message}`, { file: files.chatTemplateSource });
    }
    await checkChatTemplate(files.chatTemplate, files.chatTemplateSource); // before the costlier tokenizer parse
    let tokenizer: Tokenizer;
    try {
      tokenizer = await cachedTokenizer(files.tokenizerJson, files.tokenizerConfig);
    } catch (err) {
      throw new ModelLoadError('MODEL_BAD_CONFIG', `${files.tokenizerJson}: cannot load the tokenizer: ${(err as Error).message}`, { file: files.tokenizerJson });
    }
    const padToken = files.tokenizerConfig['pad_token'];
    const padId = typeof padToken === 'string' ? tokenizer.token_to_id(padToken) : undefined;
    return new PromptTokenizer(tokenizer, template, padId ?? PAD_TOKEN_ID);
  }

  /** The chat text of a prompt: one user message, generation prompt on, thinking off. */
  chatText(prompt: string): string {
    if (typeof prompt !== 'string') throw new OvisError('OVIS_BAD_ARGUMENT', `prompt must be a string, got ${typeof prompt}`);
    const text = this.template.render(chatContext(SYSTEM_PROMPT + prompt));
    if (text.length > MAX_CHAT_TEXT_CHARS) {
      throw new OvisError('MODEL_BAD_CONFIG', `the chat template rendered ${text.length} characters for this prompt, over the limit of ${MAX_CHAT_TEXT_CHARS}`);
    }
    return text;
  }

  /** Token ids of the chat text (special-token strings in it are matched), truncated and padded. */
  encode(prompt: string): EncodedPrompt {
    const ids = this.tokenizer.encode(this.chatText(prompt), { add_special_tokens: false }).ids;
    const inputIds = new Int32Array(MAX_TOKENS).fill(this.padTokenId);
    const attentionMask = new Int32Array(MAX_TOKENS);
    const kept = Math.min(ids.length, MAX_TOKENS);
    for (let i = 0; i < kept; i++) {
      inputIds[i] = ids[i] ?? this.padTokenId;
      attentionMask[i] = 1;
    }
    return { inputIds, attentionMask, truncated: ids.length > MAX_TOKENS, tokenCount: ids.length };
  }
}
