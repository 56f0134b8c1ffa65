// Files built byte by byte for the attachment tests (docs/protocol.md §8):
// images the server must decode (PNG, JPEG, GIF, WebP), documents it must
// recognise from their bytes (PDF, ZIP, DOCX, XLSX, PPTX), things it must
// refuse (ELF, a PNG that lies about its size), the readers that check a
// thumbnail's dimensions, and a multipart/form-data writer that sends exactly
// the bytes a test means (filenames with control characters included).
//
// No dependency: zlib's deflate is Node's, CRC-32 is computed here.

import { deflateSync } from 'node:zlib';

// ---------------------------------------------------------------- CRC-32

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n += 1) {
    let c = n;
    for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO-HDLC, as PNG and ZIP use it) of `bytes`. */
export function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u32be = (n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n >>> 0); return b; };
const u16le = (n) => { const b = Buffer.alloc(2); b.writeUInt16LE(n); return b; };
const u32le = (n) => { const b = Buffer.alloc(4); b.writeUInt32LE(n >>> 0); return b; };

// ---------------------------------------------------------------- PNG

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngChunk(type, data) {
  const typeBytes = Buffer.from(type, 'latin1');
  return Buffer.concat([u32be(data.length), typeBytes, data, u32be(crc32(Buffer.concat([typeBytes, data])))]);
}

function ihdr(width, height, colorType = 2) {
  const data = Buffer.alloc(13);
  data.writeUInt32BE(width, 0);
  data.writeUInt32BE(height, 4);
  data[8] = 8; // bit depth
  data[9] = colorType; // 2: RGB
  data[10] = 0; // deflate
  data[11] = 0; // adaptive filtering
  data[12] = 0; // no interlace
  return pngChunk('IHDR', data);
}

/**
 * A valid RGB PNG of `width` x `height`: a horizontal gradient over a base
 * colour (so rows compress well and the image is not one flat colour).
 */
export function png(width, height, { color = [40, 120, 200] } = {}) {
  const row = Buffer.alloc(1 + width * 3);
  row[0] = 0; // filter: none
  for (let x = 0; x < width; x += 1) {
    row[1 + x * 3] = (color[0] + x) & 0xff;
    row[2 + x * 3] = color[1];
    row[3 + x * 3] = color[2];
  }
  const raw = Buffer.alloc(row.length * height);
  for (let y = 0; y < height; y += 1) row.copy(raw, y * row.length);
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height), pngChunk('IDAT', deflateSync(raw, { level: 9 })), pngChunk('IEND', Buffer.alloc(0))]);
}

/**
 * A decompression bomb: a well-formed PNG header declaring `width` x `height`
 * (correct CRCs) followed by a little zlib data of zeros. Tiny on the wire;
 * decoding it would need width * height * 3 bytes.
 */
export function pngBomb(width = 100_000, height = 100_000) {
  return Buffer.concat([PNG_SIGNATURE, ihdr(width, height), pngChunk('IDAT', deflateSync(Buffer.alloc(64 * 1024))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** The PNG signature and a valid IHDR, then bytes that are no PNG at all: detected as PNG, does not decode. */
export function pngBroken() {
  return Buffer.concat([PNG_SIGNATURE, ihdr(64, 64), Buffer.from('this is not an IDAT chunk, nor anything else')]);
}

/** { width, height } from a PNG's IHDR (throws when `bytes` is no PNG). */
export function pngSize(bytes) {
  if (!bytes.subarray(0, 8).equals(PNG_SIGNATURE) || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`not a PNG: ${bytes.subarray(0, 16).toString('hex')}`);
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

// ---------------------------------------------------------------- JPEG

/**
 * A valid baseline greyscale JPEG of `width` x `height`, mid grey: every 8x8
 * block is a zero DC difference and an end-of-block, with two tiny Huffman
 * tables (codes 00 and 01 of length 2 each).
 */
export function jpeg(width, height) {
  const segment = (marker, data) => Buffer.concat([Buffer.from([0xff, marker]), Buffer.from([(data.length + 2) >> 8, (data.length + 2) & 0xff]), data]);
  const app0 = segment(0xe0, Buffer.from([0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
  const dqt = segment(0xdb, Buffer.concat([Buffer.from([0x00]), Buffer.alloc(64, 1)]));
  const sof0 = segment(0xc0, Buffer.from([8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0]));
  const table = (classAndId) => Buffer.concat([
    Buffer.from([classAndId]),
    Buffer.from([0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), // two codes of length 2
    Buffer.from([0x00, 0x01]), // symbols: category 0 (DC) / end of block (AC), and a spare
  ]);
  const dht = segment(0xc4, Buffer.concat([table(0x00), table(0x10)]));
  const sos = segment(0xda, Buffer.from([1, 1, 0x00, 0, 63, 0]));
  // Per block: DC category 0 = "00", AC end of block = "00": 4 zero bits.
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const bits = blocks * 4;
  const scan = Buffer.alloc(Math.ceil(bits / 8));
  const pad = scan.length * 8 - bits; // padded with 1 bits, as JPEG requires
  if (pad > 0) scan[scan.length - 1] = (1 << pad) - 1;
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, dqt, sof0, dht, sos, scan, Buffer.from([0xff, 0xd9])]);
}

/** { width, height } from a JPEG's start-of-frame segment. */
export function jpegSize(bytes) {
  if (bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new Error(`not a JPEG: ${bytes.subarray(0, 4).toString('hex')}`);
  let i = 2;
  while (i + 4 <= bytes.length) {
    if (bytes[i] !== 0xff) throw new Error(`JPEG: no marker at ${i}`);
    const marker = bytes[i + 1];
    if (marker === 0xff) { i += 1; continue; }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) { i += 2; continue; }
    const length = bytes.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { height: bytes.readUInt16BE(i + 5), width: bytes.readUInt16BE(i + 7) };
    }
    i += 2 + length;
  }
  throw new Error('JPEG: no start-of-frame segment');
}

// ---------------------------------------------------------------- GIF

/**
 * A valid GIF89a of `width` x `height` in one colour of a 4-colour palette.
 * LZW with 3-bit codes and a clear code before every 2 pixels, so the code
 * width never grows: large, but trivially right.
 */
export function gif(width, height) {
  const header = Buffer.concat([
    Buffer.from('GIF89a', 'latin1'), u16le(width), u16le(height),
    Buffer.from([0xf1, 0, 0]), // global colour table, 2^(1+1) = 4 entries
    Buffer.from([200, 30, 30, 30, 200, 30, 30, 30, 200, 255, 255, 255]),
  ]);
  const descriptor = Buffer.concat([Buffer.from([0x2c]), u16le(0), u16le(0), u16le(width), u16le(height), Buffer.from([0])]);
  const CLEAR = 4;
  const END = 5;
  const codes = [];
  const pixels = width * height;
  for (let p = 0; p < pixels; p += 2) {
    codes.push(CLEAR, 1);
    if (p + 1 < pixels) codes.push(1);
  }
  codes.push(END);
  const data = [];
  let acc = 0;
  let n = 0;
  for (const code of codes) {
    acc |= code << n;
    n += 3;
    while (n >= 8) { data.push(acc & 0xff); acc >>= 8; n -= 8; }
  }
  if (n > 0) data.push(acc & 0xff);
  const blocks = [];
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.slice(i, i + 255);
    blocks.push(Buffer.from([chunk.length, ...chunk]));
  }
  return Buffer.concat([header, descriptor, Buffer.from([2]), ...blocks, Buffer.from([0]), Buffer.from([0x3b])]);
}

/** { width, height } from a GIF's logical screen descriptor. */
export function gifSize(bytes) {
  return { width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
}

// ---------------------------------------------------------------- WebP

/**
 * A valid lossless WebP (VP8L) of `width` x `height` in one colour: every
 * prefix code is a "simple" code of one symbol, so the pixels take no bits.
 */
export function webp(width, height, argb = [0xff, 0x20, 0x90, 0x40]) {
  const bits = [];
  const put = (value, count) => { for (let i = 0; i < count; i += 1) bits.push((value >> i) & 1); };
  put(width - 1, 14);
  put(height - 1, 14);
  put(0, 1); // alpha_is_used (a hint)
  put(0, 3); // version
  put(0, 1); // no transform
  put(0, 1); // no colour cache
  put(0, 1); // no meta prefix codes
  const [a, r, g, b] = argb;
  for (const symbol of [g, r, b, a]) { // green (+ lengths), red, blue, alpha
    put(1, 1); // simple code
    put(0, 1); // one symbol
    put(1, 1); // 8-bit symbol
    put(symbol, 8);
  }
  put(1, 1); put(0, 1); put(0, 1); put(0, 1); // distance: one 1-bit symbol, 0
  const body = Buffer.alloc(1 + Math.ceil(bits.length / 8));
  body[0] = 0x2f;
  bits.forEach((bit, i) => { body[1 + (i >> 3)] |= bit << (i & 7); });
  const padded = body.length % 2 ? Buffer.concat([body, Buffer.alloc(1)]) : body;
  const chunk = Buffer.concat([Buffer.from('VP8L', 'latin1'), u32le(body.length), padded]);
  return Buffer.concat([Buffer.from('RIFF', 'latin1'), u32le(4 + chunk.length), Buffer.from('WEBP', 'latin1'), chunk]);
}

// ---------------------------------------------------------------- PDF, ZIP, Office

/** A small valid PDF (one empty page). */
export function pdf() {
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>',
  ];
  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const offset of offsets) out += `${String(offset).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** A ZIP archive of `entries` ([name, content] in order), stored (no compression). */
export function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, content] of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    const crc = crc32(data);
    const common = Buffer.concat([
      u16le(20), u16le(0), u16le(0), u16le(0), u16le(0x21), // version, flags, stored, time, date (1980-01-01)
      u32le(crc), u32le(data.length), u32le(data.length), u16le(nameBytes.length), u16le(0),
    ]);
    const local = Buffer.concat([u32le(0x04034b50), common, nameBytes, data]);
    centrals.push(Buffer.concat([
      u32le(0x02014b50), u16le(20), common, u16le(0), u16le(0), u16le(0), u32le(0), u32le(offset), nameBytes,
    ]));
    locals.push(local);
    offset += local.length;
  }
  const central = Buffer.concat(centrals);
  const end = Buffer.concat([
    u32le(0x06054b50), u16le(0), u16le(0), u16le(entries.length), u16le(entries.length),
    u32le(central.length), u32le(offset), u16le(0),
  ]);
  return Buffer.concat([...locals, central, end]);
}

const XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const rels = (target, type) => `${XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
  `<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/${type}" Target="${target}"/></Relationships>`;
const contentTypes = (part, type) => `${XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  `<Override PartName="/${part}" ContentType="${type}"/></Types>`;

/** A minimal Word document, laid out as Word writes one ([Content_Types].xml, _rels/.rels, then word/…). */
export function docx() {
  return zip([
    ['[Content_Types].xml', contentTypes('word/document.xml', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml')],
    ['_rels/.rels', rels('word/document.xml', 'officeDocument')],
    ['word/document.xml', `${XML}<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>`],
    ['word/_rels/document.xml.rels', `${XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`],
  ]);
}

/** A minimal Excel workbook with one sheet. */
export function xlsx() {
  return zip([
    ['[Content_Types].xml', contentTypes('xl/workbook.xml', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml')],
    ['_rels/.rels', rels('xl/workbook.xml', 'officeDocument')],
    ['xl/workbook.xml', `${XML}<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`],
    ['xl/_rels/workbook.xml.rels', rels('worksheets/sheet1.xml', 'worksheet')],
    ['xl/worksheets/sheet1.xml', `${XML}<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>`],
  ]);
}

/** A minimal PowerPoint file: an Office format that is not in the default allow-list. */
export function pptx() {
  return zip([
    ['[Content_Types].xml', contentTypes('ppt/presentation.xml', 'application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml')],
    ['_rels/.rels', rels('ppt/presentation.xml', 'officeDocument')],
    ['ppt/presentation.xml', `${XML}<p:presentation xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"/>`],
    ['ppt/_rels/presentation.xml.rels', `${XML}<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>`],
  ]);
}

/** A plain ZIP of two text files. */
export function plainZip() {
  return zip([['readme.txt', 'hello\n'], ['data/numbers.txt', '1 2 3\n']]);
}

/** The start of a 64-bit Linux ELF executable (header and zeros): a binary not in any allow-list. */
export function elf() {
  const bytes = Buffer.alloc(256);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(bytes, 0);
  bytes.writeUInt16LE(2, 16); // ET_EXEC
  bytes.writeUInt16LE(0x3e, 18); // x86-64
  bytes.writeUInt32LE(1, 20);
  return bytes;
}

// ---------------------------------------------------------------- multipart

/**
 * A multipart/form-data body, byte for byte as given. parts: [{ name,
 * filename?, contentType?, data }]; `filename` goes into the header verbatim
 * (UTF-8), so it may hold control characters a FormData would escape.
 * Returns { body, contentType }.
 */
export function multipart(parts, boundary = `----switchboard-test-${Math.random().toString(16).slice(2)}`) {
  const chunks = [];
  for (const part of parts) {
    let disposition = `form-data; name="${part.name}"`;
    if (part.filename !== undefined) disposition += `; filename="${part.filename}"`;
    let head = `--${boundary}\r\nContent-Disposition: ${disposition}\r\n`;
    if (part.contentType) head += `Content-Type: ${part.contentType}\r\n`;
    chunks.push(Buffer.from(`${head}\r\n`, 'utf8'), Buffer.isBuffer(part.data) ? part.data : Buffer.from(part.data ?? '', 'utf8'), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}`, boundary };
}
