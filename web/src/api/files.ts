/** What the app sends as attachments: images (shown inline) and PDFs (a file card), each up to the limit. */
export const MAX_FILE_BYTES = 10 * 1024 * 1024;
/** Images are downscaled in the page to at most this many pixels on their longer side before sending. */
export const MAX_IMAGE_EDGE = 1600;

const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'];

export function isImageType(mime: string): boolean {
  return IMAGE_TYPES.includes(mime);
}

export function isSendableType(mime: string): boolean {
  return isImageType(mime) || mime === 'application/pdf';
}
