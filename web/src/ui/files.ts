import { MAX_FILE_BYTES, MAX_IMAGE_EDGE, isImageType, isSendableType } from '../api/files.ts';
import type { FileToSend } from '../api/protocol.ts';

/** Why a picked file cannot be sent (the composer says so in words). */
export class FileProblem extends Error {
  constructor(readonly code: 'unsupported' | 'too-large' | 'unreadable') {
    super(code);
  }
}

/**
 * Readies a picked file for sending. Images are decoded and re-encoded as JPEG at most MAX_IMAGE_EDGE pixels on
 * their longer side: smaller uploads for every member, and no camera metadata (a phone photo's location) leaves
 * the device. PDFs go as they are. Anything else, or anything still over the limit, is refused.
 */
export async function prepareFile(file: File): Promise<FileToSend> {
  if (!isSendableType(file.type)) throw new FileProblem('unsupported');
  if (!isImageType(file.type)) {
    if (file.size > MAX_FILE_BYTES) throw new FileProblem('too-large');
    return { name: file.name, mime: file.type, bytes: new Uint8Array(await file.arrayBuffer()) };
  }
  // Decoding a huge file costs memory before anything is refused: the raw file has a limit too.
  if (file.size > 4 * MAX_FILE_BYTES) throw new FileProblem('too-large');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new FileProblem('unreadable');
  }
  const scale = Math.min(1, MAX_IMAGE_EDGE / Math.max(bitmap.width, bitmap.height));
  const width = Math.max(1, Math.round(bitmap.width * scale));
  const height = Math.max(1, Math.round(bitmap.height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d')!;
  // JPEG has no transparency: a transparent PNG gets a white background, not a black one.
  context.fillStyle = '#ffffff';
  context.fillRect(0, 0, width, height);
  context.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.85));
  if (!blob) throw new FileProblem('unreadable');
  if (blob.size > MAX_FILE_BYTES) throw new FileProblem('too-large');
  const name = file.name.replace(/\.[^.]*$/, '') || 'Bild';
  return { name: `${name}.jpg`, mime: 'image/jpeg', bytes: new Uint8Array(await blob.arrayBuffer()) };
}

/** Human file size, German style by default (decimal comma comes from the locale). */
export function fileSize(bytes: number, locale: string): string {
  const f = new Intl.NumberFormat(locale, { maximumFractionDigits: 1 });
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${f.format(bytes / 1024)} KB`;
  return `${f.format(bytes / (1024 * 1024))} MB`;
}
