/**
 * Finds NVIDIA's cuBLAS wheel for CUDA 13 (`nvidia-cublas` 13.x) on a Python package index: the simple
 * API (PEP 691 JSON when the index speaks it, else the PEP 503 HTML page), whose links carry the
 * file's sha256. The index is $OVIS_CUDA_INDEX_URL, else $PIP_INDEX_URL, else PyPI.
 */
import { OvisError } from '../errors.js';

export const DEFAULT_INDEX_URL = 'https://pypi.org/simple';
export const WHEEL_PROJECT = 'nvidia-cublas';

export interface WheelFile {
  filename: string;
  url: string;
  sha256: string;
  version: string;
}

export function indexUrl(env: NodeJS.ProcessEnv = process.env): string {
  return (env.OVIS_CUDA_INDEX_URL || env.PIP_INDEX_URL || DEFAULT_INDEX_URL).replace(/\/+$/, '');
}

/** The manylinux platform tag's machine for this process: x86_64 or aarch64. */
export function wheelMachine(arch: string = process.arch): string | undefined {
  return arch === 'x64' ? 'x86_64' : arch === 'arm64' ? 'aarch64' : undefined;
}

interface Link {
  filename: string;
  href: string;
  sha256: string | undefined;
}

function fromJson(body: string): Link[] {
  const doc = JSON.parse(body) as { files?: { filename?: unknown; url?: unknown; hashes?: { sha256?: unknown } }[] };
  return (doc.files ?? []).flatMap((f) =>
    typeof f.filename === 'string' && typeof f.url === 'string'
      ? [{ filename: f.filename, href: f.url, sha256: typeof f.hashes?.sha256 === 'string' ? f.hashes.sha256 : undefined }]
      : [],
  );
}

function fromHtml(body: string): Link[] {
  const out: Link[] = [];
  for (const m of body.matchAll(/<a\s[^>]*href="([^"]+)"[^>]*>([^<]+)<\/a>/gi)) {
    const href = m[1]!.replace(/&amp;/g, '&');
    const sha256 = /#sha256=([0-9a-f]{64})/i.exec(href)?.[1];
    out.push({ filename: m[2]!.trim(), href: href.replace(/#.*$/, ''), sha256 });
  }
  return out;
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The newest 13.x wheel for this machine among an index page's links (or the one of `version`). */
export function pickWheel(links: Link[], pageUrl: string, machine: string, version?: string): WheelFile | undefined {
  const candidates: WheelFile[] = [];
  for (const l of links) {
    const m = /^nvidia_cublas-(13(?:\.\d+)+)-py3-none-([\w.]+)\.whl$/.exec(l.filename);
    if (!m || !m[2]!.split('.').some((tag) => tag.startsWith('manylinux') && tag.endsWith(`_${machine}`))) continue;
    if (version && m[1] !== version) continue;
    if (!l.sha256) continue; // without a hash it cannot be checked
    candidates.push({ filename: l.filename, url: new URL(l.href, pageUrl).href, sha256: l.sha256.toLowerCase(), version: m[1]! });
  }
  return candidates.sort((a, b) => compareVersions(b.version, a.version))[0];
}

export async function findWheel(options: { env?: NodeJS.ProcessEnv; version?: string; signal?: AbortSignal; fetchPage: (url: string) => Promise<Response> }): Promise<WheelFile> {
  const pageUrl = `${indexUrl(options.env)}/${WHEEL_PROJECT}/`;
  const machine = wheelMachine();
  if (!machine) throw new OvisError('CUDA_SETUP_NOT_FOUND', `NVIDIA publishes cuBLAS wheels for Linux x64 and arm64 only (this is ${process.platform}-${process.arch})`);
  const res = await options.fetchPage(pageUrl);
  if (!res.ok) {
    throw new OvisError('CUDA_SETUP_BAD_RESPONSE', `the package index answered HTTP ${res.status} for ${pageUrl}; set OVIS_CUDA_INDEX_URL to a PEP 503 index that has ${WHEEL_PROJECT}`);
  }
  const body = await res.text();
  const type = res.headers.get('content-type') ?? '';
  let links: Link[];
  try {
    links = type.includes('json') ? fromJson(body) : fromHtml(body);
  } catch (err) {
    throw new OvisError('CUDA_SETUP_BAD_RESPONSE', `the package index page ${pageUrl} could not be read (${(err as Error).message})`, { cause: err });
  }
  const wheel = pickWheel(links, pageUrl, machine, options.version);
  if (!wheel) {
    const what = options.version ? `version ${options.version}` : 'a 13.x version';
    throw new OvisError('CUDA_SETUP_NOT_FOUND', `${pageUrl} lists no ${WHEEL_PROJECT} wheel of ${what} for manylinux ${machine} with a sha256`);
  }
  return wheel;
}
