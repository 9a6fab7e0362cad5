/** Size limits of prompts, shared by the option checks and the tokenizer. */

/**
 * Longest prompt accepted, in characters. The model reads 284 tokens; this bound keeps tokenizing
 * (synchronous, on the caller's thread) to milliseconds while leaving room for any prompt that fits.
 */
export const MAX_PROMPT_CHARS = 10_000;
