import { existsSync } from 'node:fs';
import { OvisError } from '../errors.js';

/** The model used when no `-m` / path is given. */
export const DEFAULT_MODEL_ID = 'AIDC-AI/Ovis-Image-7B';

/** A Hub model reference split into its parts. */
export interface HubModelRef {
  repoId: string; // "owner/name"
  revision: string | undefined; // branch, tag or commit after '@'
}

// Same rules as huggingface_hub's validate_repo_id: word chars, '-' and '.', no '--' or '..', ≤ 96 chars.
const NAME_PART = /^[A-Za-z0-9](?:[\w.-]{0,94}[A-Za-z0-9_])?$/;

function isValidNamePart(part: string): boolean {
  return NAME_PART.test(part) && !part.includes('--') && !part.includes('..');
}

/** Splits `owner/name[@revision]`; returns undefined when `s` does not have that shape. */
export function parseHubModelId(s: string): HubModelRef | undefined {
  const at = s.indexOf('@');
  const repoId = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? undefined : s.slice(at + 1);
  if (revision !== undefined && (revision.length === 0 || /\s/.test(revision) || revision.includes('..'))) {
    return undefined;
  }
  const parts = repoId.split('/');
  if (parts.length !== 2 || !parts.every(isValidNamePart)) return undefined;
  return { repoId, revision };
}

/** Like parseHubModelId but throws a typed error naming the expected shape. */
export function parseHubModelIdOrThrow(s: string): HubModelRef {
  const ref = parseHubModelId(s);
  if (!ref) {
    throw new OvisError(
      'HUB_BAD_REPO_ID',
      `"${s}" is not a Hugging Face model id: expected owner/name or owner/name@revision (e.g. ${DEFAULT_MODEL_ID})`,
    );
  }
  return ref;
}

/**
 * True when `s` should be fetched from the Hub: it has the `owner/name[@revision]` shape and is not
 * an existing local path (a local folder such as `models/ovis` wins over the repo of that name).
 */
export function isHubModelId(s: string): boolean {
  if (existsSync(s)) return false;
  return parseHubModelId(s) !== undefined;
}
