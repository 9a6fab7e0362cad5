/**
 * A local stand-in for a Python package index (PEP 503 simple API) serving nvidia-cublas wheels made
 * in the test, on 127.0.0.1 only; with Range requests and fault injection (a connection cut after N
 * bytes, a wrong sha256 in the listing), and a log of what was asked.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import yazl from 'yazl';

export interface FakeWheel {
  filename: string;
  data: Buffer;
  sha256: string;
}

/** A wheel (zip) with these entries; the name says version and platform. */
export function makeWheel(filename: string, entries: Record<string, Buffer | string>): Promise<FakeWheel> {
  const zip = new yazl.ZipFile();
  for (const [name, content] of Object.entries(entries)) zip.addBuffer(Buffer.from(content), name);
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('error', reject);
    zip.outputStream.on('end', () => {
      const data = Buffer.concat(chunks);
      resolve({ filename, data, sha256: createHash('sha256').update(data).digest('hex') });
    });
  });
}

export interface IndexFaults {
  /** Cut the connection after this many body bytes, once. */
  cutAfter?: number;
  /** List this sha256 instead of the true one. */
  wrongSha?: boolean;
  /** Answer the listing as PEP 691 JSON when the client accepts it. */
  json?: boolean;
}

export interface FakeIndex {
  url: string; // .../simple
  requests: { path: string; range: string | undefined }[];
  faults: IndexFaults;
  close(): Promise<void>;
}

function listing(wheels: FakeWheel[], faults: IndexFaults, req: IncomingMessage, res: ServerResponse): void {
  const sha = (w: FakeWheel): string => (faults.wrongSha ? 'f'.repeat(64) : w.sha256);
  if (faults.json && (req.headers.accept ?? '').includes('json')) {
    res.writeHead(200, { 'content-type': 'application/vnd.pypi.simple.v1+json' });
    res.end(JSON.stringify({ meta: { 'api-version': '1.1' }, name: 'nvidia-cublas', files: wheels.map((w) => ({ filename: w.filename, url: `../../files/${w.filename}`, hashes: { sha256: sha(w) } })) }));
    return;
  }
  const links = wheels.map((w) => `<a href="../../files/${w.filename}#sha256=${sha(w)}">${w.filename}</a><br/>`).join('\n');
  res.writeHead(200, { 'content-type': 'text/html' });
  res.end(`<!DOCTYPE html><html><body><h1>Links for nvidia-cublas</h1>\n${links}\n</body></html>`);
}

function serveFile(w: FakeWheel, faults: IndexFaults, req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  if (start >= w.data.length) {
    res.writeHead(416, { 'content-range': `bytes */${w.data.length}` });
    res.end();
    return;
  }
  const body = w.data.subarray(start);
  res.writeHead(m ? 206 : 200, { 'content-length': String(body.length), 'accept-ranges': 'bytes', ...(m ? { 'content-range': `bytes ${start}-${w.data.length - 1}/${w.data.length}` } : {}) });
  if (faults.cutAfter !== undefined) {
    const n = faults.cutAfter;
    faults.cutAfter = undefined;
    // Let the client read the first part before the connection drops.
    res.write(body.subarray(0, n), () => setTimeout(() => res.destroy(), 300));
    return;
  }
  res.end(body);
}

export async function startFakeIndex(wheels: FakeWheel[], faults: IndexFaults = {}): Promise<FakeIndex> {
  const requests: FakeIndex['requests'] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ path, range: req.headers.range });
    if (path === '/simple/nvidia-cublas/') return listing(wheels, faults, req, res);
    const wheel = wheels.find((w) => path === `/files/${w.filename}`);
    if (wheel) return serveFile(wheel, faults, req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/simple`,
    requests,
    faults,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
