/** Which repo files the engine needs; everything else (README, images, .bin/.pt/.ckpt, onnx) is skipped. */

export type RepoLayout = 'diffusers' | 'official';

const SAFETENSORS = /\.safetensors(\.index\.json)?$/;
const WEIGHT_COMPONENTS = new Set(['text_encoder', 'transformer', 'vae']);
const OFFICIAL_ROOT_FILES = new Set(['ovis_image.safetensors', 'ae.safetensors']);
export const OFFICIAL_TEXT_ENCODER_DIR = 'Ovis2.5-2B';
const TOKENIZER_FILES =
  /^(tokenizer\.json|tokenizer_config\.json|vocab\.json|merges\.txt|special_tokens_map\.json|added_tokens\.json|chat_template\.(jinja|json))$/;

/** diffusers when the repo has model_index.json (even if official files sit beside it), else official. */
export function detectLayout(paths: readonly string[]): RepoLayout | undefined {
  if (paths.includes('model_index.json')) return 'diffusers';
  if (paths.some((p) => OFFICIAL_ROOT_FILES.has(p))) return 'official';
  return undefined;
}

function isNeededDiffusers(path: string): boolean {
  if (path === 'model_index.json') return true;
  const parts = path.split('/');
  if (parts.length !== 2) return false;
  const [dir, file] = parts as [string, string];
  if (dir === 'scheduler' || dir === 'tokenizer') return true;
  if (!WEIGHT_COMPONENTS.has(dir)) return false;
  return file === 'config.json' || SAFETENSORS.test(file);
}

function isNeededOfficial(path: string): boolean {
  if (OFFICIAL_ROOT_FILES.has(path)) return true;
  const parts = path.split('/');
  if (parts.length !== 2 || parts[0] !== OFFICIAL_TEXT_ENCODER_DIR) return false;
  const file = parts[1] as string;
  return file === 'config.json' || SAFETENSORS.test(file) || TOKENIZER_FILES.test(file);
}

/** The subset of `paths` to download, in repo order; undefined when the repo is no known layout. */
export function selectModelFiles(paths: readonly string[]): { layout: RepoLayout; files: string[] } | undefined {
  const layout = detectLayout(paths);
  if (!layout) return undefined;
  const keep = layout === 'diffusers' ? isNeededDiffusers : isNeededOfficial;
  return { layout, files: paths.filter(keep) };
}
