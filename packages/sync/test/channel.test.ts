import { frame } from '@schoolmesh/wire';
import { describe, expect, it } from 'vitest';
import { type ByteStream, framedByteChannel } from '../src/channel.ts';

/** A byte stream the test drives by hand. */
function handStream() {
  let data: ((b: Uint8Array) => void) | undefined;
  let end: ((r?: string) => void) | undefined;
  const written: Uint8Array[] = [];
  let ended = false;
  const stream: ByteStream = {
    write: (b) => written.push(b),
    end: () => {
      ended = true;
    },
    onData: (h) => (data = h),
    onEnd: (h) => (end = h),
  };
  return { stream, push: (b: Uint8Array) => data!(b), finish: (r?: string) => end!(r), written, ended: () => ended };
}

describe('framedByteChannel', () => {
  it('keeps frames that arrive before the first handler and delivers them in order', () => {
    const s = handStream();
    const channel = framedByteChannel(s.stream);
    s.push(frame(Uint8Array.of(1)));
    s.push(frame(Uint8Array.of(2, 2)));
    const got: number[][] = [];
    channel.onFrame((f) => got.push([...f]));
    s.push(frame(Uint8Array.of(3)));
    expect(got).toEqual([[1], [2, 2], [3]]);
  });

  it('reassembles frames split across chunks and tells late close handlers', async () => {
    const s = handStream();
    const channel = framedByteChannel(s.stream);
    const got: number[][] = [];
    channel.onFrame((f) => got.push([...f]));
    const bytes = frame(Uint8Array.of(7, 8, 9));
    s.push(bytes.subarray(0, 2));
    s.push(bytes.subarray(2));
    expect(got).toEqual([[7, 8, 9]]);
    s.finish('gone');
    const reason = await new Promise((resolve) => channel.onClose(resolve));
    expect(reason).toBe('gone');
    expect(s.ended()).toBe(true);
  });

  it('closes on a length prefix over the maximum instead of allocating it', () => {
    const s = handStream();
    const channel = framedByteChannel(s.stream);
    let closed: string | undefined;
    channel.onClose((r) => (closed = r ?? 'closed'));
    s.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
    expect(closed).toBeDefined();
  });
});
