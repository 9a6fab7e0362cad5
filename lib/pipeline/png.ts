/**
 * PNG encoding of RGB8 images with the generation parameters as text chunks, and a reader for them.
 * pngjs writes the pixels; it has no text-chunk support, so the chunks are spliced in after IHDR.
 */
import pngjs from 'pngjs';

const { PNG } = pngjs;

export interface RgbImage {
  width: number;
  height: number;
  /** RGB8, row-major, HWC. */
  data: Uint8Array;
}

/** Keyword → text. Latin-1 values become tEXt chunks, anything else UTF-8 iTXt chunks. */
export type PngText = Record<string, string>;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Encodes RGB8 pixels as a PNG with text chunks. Resolves with a Node Buffer (a Uint8Array). */
export async function encodePng(image: RgbImage, text: PngText = {}): Promise<Uint8Array> {
  const { width, height, data } = image;
  if (data.length !== width * height * 3) {
    throw new RangeError(`RGB data has ${data.length} bytes, expected ${width}×${height}×3`);
  }
  const png = new PNG({ width, height, colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 6 });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const pixels = await new Promise<Buffer>((resolve, reject) => {
    const parts: Buffer[] = [];
    png.pack().on('data', (c: Buffer) => parts.push(c)).on('end', () => resolve(Buffer.concat(parts))).on('error', reject);
  });
  return insertTextChunks(pixels, text);
}

/** Splices text chunks in right after IHDR (signature 8 bytes + IHDR chunk 25 bytes). */
function insertTextChunks(png: Buffer, text: PngText): Buffer {
  const afterIhdr = 8 + 25;
  if (!png.subarray(0, 8).equals(SIGNATURE) || png.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error('not a PNG file');
  }
  const chunks = Object.entries(text).map(([k, v]) => textChunk(k, v));
  return Buffer.concat([png.subarray(0, afterIhdr), ...chunks, png.subarray(afterIhdr)]);
}

function textChunk(keyword: string, value: string): Buffer {
  if (!/^[\x20-\x7e]{1,79}$/.test(keyword) || keyword !== keyword.trim()) {
    throw new RangeError(`bad PNG text keyword ${JSON.stringify(keyword)}`);
  }
  const key = Buffer.from(keyword, 'latin1');
  // eslint-disable-next-line no-control-regex -- tEXt allows newline (0x0a) besides printable Latin-1
  if (/^[\x0a\x20-\x7e\xa0-\xff]*$/.test(value)) {
    return chunk('tEXt', Buffer.concat([key, Buffer.from([0]), Buffer.from(value, 'latin1')]));
  }
  // iTXt: keyword \0, uncompressed (0, 0), empty language \0, empty translated keyword \0, UTF-8 text.
  return chunk('iTXt', Buffer.concat([key, Buffer.from([0, 0, 0, 0, 0]), Buffer.from(value, 'utf8')]));
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])), 0);
  return Buffer.concat([head, body, crc]);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (ISO 3309, the one PNG uses). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface DecodedPng extends RgbImage {
  text: PngText;
}

/** Decodes a PNG to RGB8 plus its tEXt/iTXt chunks; checks every chunk's CRC. */
export function decodePng(bytes: Uint8Array): DecodedPng {
  const file = asBuffer(bytes);
  const text = readPngText(file);
  const png = PNG.sync.read(file);
  const rgb = new Uint8Array(png.width * png.height * 3);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    rgb[i] = png.data[j]!;
    rgb[i + 1] = png.data[j + 1]!;
    rgb[i + 2] = png.data[j + 2]!;
  }
  return { width: png.width, height: png.height, data: rgb, text };
}

/** The tEXt and iTXt chunks of a PNG file, keyword → text; checks every chunk's CRC. */
export function readPngText(bytes: Uint8Array): PngText {
  const file = asBuffer(bytes);
  if (!file.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  const text: PngText = {};
  let at = 8;
  while (at + 12 <= file.length) {
    const len = file.readUInt32BE(at);
    const type = file.toString('latin1', at + 4, at + 8);
    const body = file.subarray(at + 8, at + 8 + len);
    if (crc32(file.subarray(at + 4, at + 8 + len)) !== file.readUInt32BE(at + 8 + len)) {
      throw new Error(`bad CRC in PNG chunk ${type}`);
    }
    const nul = body.indexOf(0);
    if (type === 'tEXt' && nul > 0) {
      text[body.toString('latin1', 0, nul)] = body.toString('latin1', nul + 1);
    } else if (type === 'iTXt' && nul > 0 && body[nul + 1] === 0) {
      const lang = body.indexOf(0, nul + 3);
      const translated = body.indexOf(0, lang + 1);
      text[body.toString('latin1', 0, nul)] = body.toString('utf8', translated + 1);
    }
    if (type === 'IEND') break;
    at += 12 + len;
  }
  return text;
}

/** A Buffer view of the same bytes (no copy). */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
