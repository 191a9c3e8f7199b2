export { DecodeError, type DecodeErrorCode, decodeTotal } from './errors.ts';
export { Encoder, encode } from './encoder.ts';
export { Decoder, decode, defaultLimits, type DecoderLimits } from './decoder.ts';
export { frame, FrameReader, MAX_FRAME_BYTES } from './frames.ts';
export { bytesEqual, compareBytes, concatBytes, fromBase64Url, fromHex, toBase64Url, toHex } from './bytes.ts';
