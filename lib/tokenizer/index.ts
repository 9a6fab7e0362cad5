export { PromptTokenizer, SYSTEM_PROMPT, MAX_TOKENS, PREFIX_TOKENS, PAD_TOKEN_ID, MAX_PROMPT_CHARS } from './prompt-tokenizer.js';
export { checkChatTemplate, TEMPLATE_TIME_LIMIT_MS, MAX_CHAT_TEXT_CHARS } from './template-check.js';
export type { EncodedPrompt } from './prompt-tokenizer.js';
export { locateTokenizerFiles } from './files.js';
export type { TokenizerFiles } from './files.js';
