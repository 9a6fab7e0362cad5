/** The `model` argument of OvisImage.load: what it may be, checked before anything is read. */
import { OvisError } from '../errors.js';
import type { ModelFiles } from '../model/index.js';
import { describeValue } from './describe-value.js';

/**
 * A model folder, a Hugging Face model id `owner/name[@revision]` (an existing local path of that name
 * wins), or each component's file or folder (transformer, textEncoder, vae, tokenizer, scheduler).
 */
export type ModelSource = string | ModelFiles;

const COMPONENTS = ['transformer', 'textEncoder', 'vae', 'tokenizer', 'scheduler'] as const;
const RULE = `must be a model folder, a Hugging Face model id 'owner/name[@revision]', or an object of component paths { ${COMPONENTS.join(', ')} }`;

function invalid(detail: string): OvisError {
  return new OvisError('OVIS_INVALID_OPTIONS', `load: 'model' ${RULE} (${detail})`);
}

/** Throws OvisError('OVIS_INVALID_OPTIONS') naming the model argument unless it has one of the accepted forms. */
export function checkModelSource(model: unknown): asserts model is ModelSource {
  if (typeof model === 'string') {
    if (model.trim() === '') throw invalid('got an empty string');
    if (model.includes('\0')) throw invalid('got a string with a NUL character');
    return;
  }
  if (typeof model !== 'object' || model === null || Array.isArray(model)) throw invalid(`got ${describeValue(model)}`);
  const entries = Object.entries(model);
  const unknown = entries.filter(([k]) => !(COMPONENTS as readonly string[]).includes(k)).map(([k]) => `'${k}'`);
  if (unknown.length) throw invalid(`unknown key ${unknown.join(', ')}`);
  const bad = entries.find(([, v]) => v !== undefined && (typeof v !== 'string' || v.trim() === ''));
  if (bad) throw invalid(`'${bad[0]}' must be a path string, got ${describeValue(bad[1])}`);
  if (entries.every(([, v]) => v === undefined)) throw invalid('got an object with no component paths');
}
