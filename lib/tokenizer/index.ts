export { PromptTokenizer, SYSTEM_PROMPT, MAX_TOKENS, PREFIX_TOKENS, PAD_TOKEN_ID } from './prompt-tokenizer.js';
export type { EncodedPrompt } from './prompt-tokenizer.js';
export { locateTokenizerFiles } from './files.js';
export type { TokenizerFiles } from './files.js';
