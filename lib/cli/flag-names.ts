/**
 * The one place where API names become the flags users typed: option validation errors of
 * OvisImage.load / generate and model-file problems are reworded here, so every CLI message names a flag.
 */
import { OvisError } from '../errors.js';
import { flagError, UsageError } from './usage-error.js';

/** API option or model-file field → CLI flag. */
export const FLAG_OF_FIELD: Readonly<Record<string, string>> = {
  prompt: '--prompt',
  negativePrompt: '--negative',
  width: '--width',
  height: '--height',
  steps: '--steps',
  guidanceScale: '--guidance',
  seed: '--seed',
  noise: '--noise',
  image: '--init-image',
  strength: '--strength',
  previewEvery: '--preview-every',
  count: '--count',
  device: '--device',
  threads: '--threads',
  precision: '--precision',
  keepTextEncoder: '--keep-text-encoder',
  weights: '--weights',
  textEncoderWeights: '--text-encoder-weights',
  vaeTiling: '--vae-tile',
  offload: '--offload',
  transformer: '--transformer',
  textEncoder: '--text-encoder',
  vae: '--vae',
  tokenizer: '--tokenizer',
  scheduler: '--scheduler',
};

/** Raw flag values as typed, keyed by API field (what `--guidance` was given is under guidanceScale). */
export type TypedValues = Partial<Record<string, string>>;

const QUOTED_FIELD = /'([A-Za-z]+)(?:\.[\w.]+)?'/;

/**
 * An OVIS_INVALID_OPTIONS error from the API becomes a UsageError naming the flag and the value as typed
 * ("--guidance must be a number in [0, 100] (got NaN)"); anything else is returned unchanged.
 */
export function toFlagError(err: unknown, typed: TypedValues): unknown {
  if (!(err instanceof OvisError) || err.code !== 'OVIS_INVALID_OPTIONS' || err instanceof UsageError) return err;
  const match = QUOTED_FIELD.exec(err.message);
  const field = match?.[1];
  const flag = field === undefined ? undefined : FLAG_OF_FIELD[field];
  if (!match || !field || !flag) return new UsageError(renameFields(err.message), { cause: err });
  // The rule is what follows the field, without the API's "(got …)": the flag's own text replaces it.
  const rule = err.message
    .slice(match.index + match[0].length)
    .trim()
    .replace(/\s*\(got [^)]*\)\s*$/, '');
  return flagError(flag, renameFields(rule), typed[field], err);
}

/** Any API field named in a message ("no textEncoder given", "given as the vae") becomes its flag. */
export function renameFields(message: string): string {
  return message.replace(/'?\b([a-z][A-Za-z]+)\b'?/g, (whole, word: string) => {
    const flag = FLAG_OF_FIELD[word];
    if (!flag) return whole;
    // only quoted names or the camelCase ones are API names; "the prompt" in prose stays
    return whole.startsWith("'") || /[A-Z]/.test(word) ? flag : whole;
  });
}
