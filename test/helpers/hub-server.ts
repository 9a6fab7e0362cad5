/**
 * A local stand-in for the Hugging Face Hub, listening on 127.0.0.1 only. It serves a folder as a model
 * repo the way the Hub does, enough for our downloader and for Python's huggingface_hub: the revision
 * API (commit sha + siblings), the recursive tree API, HEAD/GET on /{repo}/resolve/{rev}/{path} with
 * ETag / X-Repo-Commit / X-Linked-Etag / X-Linked-Size, LFS files redirected to a CDN path, Range
 * requests, X-Error-Code on failures; plus fault injection.
 *
 * The CDN is addressed by another host name (`localhost`, same socket): huggingface_hub follows
 * redirects that stay on the Hub's host and reads the file's metadata from the redirect itself only
 * when it leaves that host, as the real Hub's redirects to its storage do.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface FakeRepoSpec {
  id: string; // owner/name
  dir: string; // folder served as the repo
  commit?: string; // 40 hex; derived from the id when left out
  gated?: boolean; // resolve needs one of the server's tokens
  extraFiles?: Record<string, string>; // files in the repo besides `dir` (README, images, .bin ...)
}

interface RepoFile {
  data: Buffer;
  sha256: string;
  gitOid: string;
  lfs: boolean;
}

interface Repo {
  spec: FakeRepoSpec;
  commit: string;
  files: Map<string, RepoFile>;
}

export interface LoggedRequest {
  method: string;
  host: string | undefined; // Host header: 127.0.0.1:port for the Hub, localhost:port for the CDN
  url: string; // path only
  range: string | undefined;
  authorization: string | undefined;
}

function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    if (statSync(full).isDirectory()) out.push(...walk(full, rel));
    else out.push(rel);
  }
  return out;
}

function makeFile(path: string, data: Buffer): RepoFile {
  const gitOid = createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
  return {
    data,
    sha256: createHash('sha256').update(data).digest('hex'),
    gitOid,
    lfs: path.endsWith('.safetensors') || path.endsWith('.bin') || data.length > 10 * 1024 * 1024,
  };
}

function loadRepo(spec: FakeRepoSpec): Repo {
  const files = new Map<string, RepoFile>();
  for (const p of walk(spec.dir)) files.set(p, makeFile(p, readFileSync(join(spec.dir, p))));
  for (const [p, text] of Object.entries(spec.extraFiles ?? {})) files.set(p, makeFile(p, Buffer.from(text)));
  const commit = spec.commit ?? createHash('sha1').update(`commit:${spec.id}`).digest('hex');
  return { spec, commit, files };
}

export class FakeHub {
  readonly requests: LoggedRequest[] = [];
  readonly tokens = new Set<string>();
  /** repo path -> bytes after which the next body of that file is cut (socket destroyed); one-shot. */
  readonly dropAfter = new Map<string, number>();
  /** Bodies ignore Range and send the whole file with 200 (some proxies do). */
  ignoreRange = false;
  /** repo paths whose next body arrives with one byte changed (same size); one-shot. */
  readonly damageOnce = new Set<string>();
  /** Bodies are sent in 64 KiB pieces this many ms apart, so that concurrent downloads overlap. */
  chunkDelayMs = 0;
  /** Answers a request before the Hub logic when it returns true: odd servers in tests. */
  intercept: ((req: IncomingMessage, res: ServerResponse, path: string) => boolean) | undefined;
  private readonly repos = new Map<string, Repo>();
  private readonly byHash = new Map<string, { path: string; file: RepoFile }>();
  private server: Server | undefined;
  url = '';
  /** Base URL of the fake storage CDN that LFS files redirect to: the same server under another host name. */
  cdnUrl = '';

  constructor(specs: FakeRepoSpec[]) {
    for (const spec of specs) {
      const repo = loadRepo(spec);
      this.repos.set(spec.id, repo);
      for (const [path, file] of repo.files) if (file.lfs) this.byHash.set(file.sha256, { path, file });
    }
  }

  commitOf(id: string): string {
    return (this.repos.get(id) as Repo).commit;
  }

  fileOf(id: string, path: string): RepoFile {
    return (this.repos.get(id) as Repo).files.get(path) as RepoFile;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.url = `http://127.0.0.1:${port}`;
    this.cdnUrl = `http://localhost:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private fail(res: ServerResponse, status: number, code: string, message: string): void {
    res.writeHead(status, { 'content-type': 'application/json', 'x-error-code': code, 'x-error-message': message });
    res.end(JSON.stringify({ error: message }));
  }

  private resolveRevision(repo: Repo, rev: string): boolean {
    return rev === 'main' || rev === repo.commit;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({
      method: req.method ?? 'GET',
      host: req.headers.host,
      url: url.pathname,
      range: req.headers.range,
      authorization: req.headers.authorization,
    });
    if (this.intercept?.(req, res, url.pathname)) return;
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const auth = req.headers.authorization?.replace(/^Bearer /, '');
    const authorised = auth !== undefined && this.tokens.has(auth);

    // GET /api/models/{owner}/{name}/revision/{rev}
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'revision') {
      const repo = this.repos.get(`${parts[2]}/${parts[3]}`);
      if (!repo) return this.fail(res, auth ? 404 : 401, 'RepoNotFound', 'Repository not found');
      const rev = parts.slice(5).join('/');
      if (!this.resolveRevision(repo, rev)) return this.fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: repo.spec.id, sha: repo.commit, gated: repo.spec.gated ? 'auto' : false, siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })) }));
      return;
    }

    // GET /api/models/{owner}/{name}/tree/{rev}[/{folder}] (?recursive=true): what snapshot_download lists
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'tree' && parts.length >= 6) {
      const repo = this.repos.get(`${parts[2]}/${parts[3]}`);
      if (!repo) return this.fail(res, auth ? 404 : 401, 'RepoNotFound', 'Repository not found');
      const rev = parts[5] as string;
      if (!this.resolveRevision(repo, rev)) return this.fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const recursive = ['1', 'true', 'True'].includes(url.searchParams.get('recursive') ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.treeEntries(repo, parts.slice(6).join('/'), recursive)));
      return;
    }

    // GET|HEAD /cdn/{sha256}: the storage the Hub redirects LFS files to
    if (parts[0] === 'cdn' && parts.length === 2) {
      const hit = this.byHash.get(parts[1] as string);
      if (!hit) return this.fail(res, 404, 'NotFound', 'no such object');
      return this.sendBody(req, res, hit.path, hit.file, { etag: `"${hit.file.sha256}"` });
    }

    // HEAD|GET /{owner}/{name}/resolve/{rev}/{path...}
    if (parts[2] === 'resolve' && parts.length >= 5) {
      const repo = this.repos.get(`${parts[0]}/${parts[1]}`);
      if (!repo) return this.fail(res, auth ? 404 : 401, 'RepoNotFound', 'Repository not found');
      if (repo.spec.gated && !authorised) {
        return this.fail(res, auth ? 403 : 401, 'GatedRepo', `Access to model ${repo.spec.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`);
      }
      const rev = parts[3] as string;
      if (!this.resolveRevision(repo, rev)) return this.fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      const path = parts.slice(4).join('/');
      const file = repo.files.get(path);
      if (!file) {
        // The Hub names the commit even here; huggingface_hub caches the absence under .no_exist/<commit>.
        res.setHeader('x-repo-commit', repo.commit);
        return this.fail(res, 404, 'EntryNotFound', `${path} does not exist on "${rev}"`);
      }
      if (file.lfs) {
        res.writeHead(302, {
          location: `${this.cdnUrl}/cdn/${file.sha256}`,
          'x-repo-commit': repo.commit,
          'x-linked-etag': `"${file.sha256}"`,
          'x-linked-size': String(file.data.length),
          etag: `W/"${file.gitOid}"`,
          'content-length': '0',
        });
        res.end();
        return;
      }
      return this.sendBody(req, res, path, file, { etag: `"${file.gitOid}"`, 'x-repo-commit': repo.commit });
    }
    this.fail(res, 404, 'NotFound', 'unknown route');
  }

  /** Entries of the tree API below `folder`: files (with their LFS pointer data) and folders. */
  private treeEntries(repo: Repo, folder: string, recursive: boolean): object[] {
    const prefix = folder === '' ? '' : `${folder}/`;
    const out: object[] = [];
    const folders = new Set<string>();
    for (const [path, file] of repo.files) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length).split('/');
      for (let i = 1; i < rest.length && (recursive || i === 1); i++) folders.add(prefix + rest.slice(0, i).join('/'));
      if (!recursive && rest.length > 1) continue;
      const lfs = file.lfs ? { lfs: { oid: file.sha256, size: file.data.length, pointerSize: 134 } } : {};
      out.push({ type: 'file', oid: file.gitOid, size: file.data.length, path, ...lfs });
    }
    const tree = (p: string): string => createHash('sha1').update(`tree:${p}`).digest('hex');
    return [...[...folders].sort().map((p) => ({ type: 'directory', oid: tree(p), size: 0, path: p })), ...out];
  }

  private sendBody(req: IncomingMessage, res: ServerResponse, path: string, file: RepoFile, headers: Record<string, string>): void {
    const size = file.data.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (m && !this.ignoreRange) {
      start = Number(m[1]);
      end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` });
        res.end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    let body = file.data.subarray(start, end + 1);
    res.writeHead(status, { ...headers, 'accept-ranges': 'bytes', 'content-length': String(body.length), 'content-type': 'application/octet-stream' });
    if (req.method === 'HEAD') return void res.end();
    if (this.damageOnce.delete(path) && body.length > 0) {
      body = Buffer.from(body);
      body[0] = (body[0] as number) ^ 0x20;
    }
    const cut = this.dropAfter.get(path);
    if (cut !== undefined && cut < body.length) {
      this.dropAfter.delete(path);
      res.write(body.subarray(0, cut), () => res.socket?.destroy());
      return;
    }
    if (this.chunkDelayMs > 0) return this.trickle(res, body);
    res.end(body);
  }

  private trickle(res: ServerResponse, body: Buffer, offset = 0): void {
    const piece = body.subarray(offset, offset + 65536);
    if (offset + piece.length >= body.length) return void res.end(piece);
    res.write(piece);
    setTimeout(() => this.trickle(res, body, offset + piece.length), this.chunkDelayMs);
  }
}
