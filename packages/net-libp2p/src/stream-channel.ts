import type { MessageStream, MessageStreamWriteStatus } from '@libp2p/interface';
import { type ByteStream, type FrameChannel, framedByteChannel } from '@schoolmesh/sync';

/** How long a closing stream waits for the other side before it is aborted. */
const CLOSE_TIMEOUT_MS = 2_000;

/**
 * A sync FrameChannel over one libp2p stream: length-prefixed frames (framedByteChannel), `buffered` from the
 * stream's write buffer for backpressure. Closing ends the stream gracefully and aborts it if the peer hangs.
 */
export function streamChannel(stream: MessageStream & { writeStatus?: MessageStreamWriteStatus }): FrameChannel {
  let ended = false;
  const endHandlers: ((reason?: string) => void)[] = [];
  const ended_ = (reason?: string) => {
    if (ended) return;
    ended = true;
    for (const h of endHandlers) h(reason);
  };
  stream.addEventListener('close', (event) => ended_(event.error?.message ?? 'stream closed'));
  stream.addEventListener('remoteCloseWrite', () => ended_('peer closed the stream'));
  const bytes: ByteStream = {
    write: (data) => {
      if ((stream.writeStatus ?? (stream.status === 'open' ? 'writable' : 'closed')) !== 'writable') return;
      try {
        stream.send(data);
      } catch {
        ended_('stream not writable');
      }
    },
    end: () => {
      if (stream.status !== 'open') return;
      stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch((error: Error) => stream.abort(error));
    },
    onData: (handler) =>
      stream.addEventListener('message', (event) => {
        const data = event.data;
        handler(data instanceof Uint8Array ? data : data.subarray());
      }),
    onEnd: (handler) => endHandlers.push(handler),
  };
  const channel = framedByteChannel(bytes);
  return {
    send: (f) => channel.send(f),
    close: (reason) => channel.close(reason),
    onFrame: (h) => channel.onFrame(h),
    onClose: (h) => channel.onClose(h),
    get buffered() {
      return stream.writeBufferLength;
    },
  };
}
