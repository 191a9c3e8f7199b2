import { FrameReader, MAX_FRAME_BYTES, frame } from '@schoolmesh/wire';

/**
 * The network seam: a bidirectional channel of whole frames. WebSockets deliver frames natively; byte streams
 * (libp2p streams, TCP) go through `framedByteChannel`. The sync session only ever sees this.
 */
export interface FrameChannel {
  send(frame: Uint8Array): void;
  close(reason?: string): void;
  onFrame(handler: (frame: Uint8Array) => void): void;
  onClose(handler: (reason?: string) => void): void;
  /** Bytes queued but not yet written (for backpressure); 0 where unknown. */
  readonly buffered?: number;
}

/** Two connected in-memory channels, delivering asynchronously and in order, like a real socket. */
export function memoryChannelPair(): [FrameChannel, FrameChannel] {
  const a = new MemoryChannel();
  const b = new MemoryChannel();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

class MemoryChannel implements FrameChannel {
  peer!: MemoryChannel;
  private frameHandlers: ((f: Uint8Array) => void)[] = [];
  private closeHandlers: ((r?: string) => void)[] = [];
  private queue: Uint8Array[] = [];
  private scheduled = false;
  closed = false;

  send(f: Uint8Array): void {
    if (this.closed) throw new Error('channel closed');
    this.peer.deliver(f.slice());
  }

  private deliver(f: Uint8Array): void {
    this.queue.push(f);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.scheduled = false;
    const frames = this.queue;
    this.queue = [];
    for (const f of frames) {
      if (this.closed) return;
      for (const h of this.frameHandlers) h(f);
    }
  }

  close(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h(reason);
    queueMicrotask(() => this.peer.close(reason));
  }

  onFrame(handler: (f: Uint8Array) => void): void {
    this.frameHandlers.push(handler);
  }

  onClose(handler: (r?: string) => void): void {
    this.closeHandlers.push(handler);
  }
}

/** A duplex byte stream, as the transports give it. */
export interface ByteStream {
  write(bytes: Uint8Array): void;
  end(): void;
  onData(handler: (bytes: Uint8Array) => void): void;
  onEnd(handler: (reason?: string) => void): void;
}

/**
 * Frames over a byte stream: 4-byte length prefix, MAX_FRAME_BYTES enforced before allocation. Frames that arrive
 * before the first onFrame handler is registered are kept and delivered to it (a transport may deliver data while
 * the session is still being set up), and a close that happened before onClose is reported to late handlers.
 */
export function framedByteChannel(stream: ByteStream): FrameChannel {
  const reader = new FrameReader();
  const frameHandlers: ((f: Uint8Array) => void)[] = [];
  const closeHandlers: ((r?: string) => void)[] = [];
  let early: Uint8Array[] | undefined = [];
  let closed = false;
  let closeReason: string | undefined;
  const close = (reason?: string) => {
    if (closed) return;
    closed = true;
    closeReason = reason;
    stream.end();
    for (const h of closeHandlers) h(reason);
  };
  stream.onData((bytes) => {
    if (closed) return;
    let frames: Uint8Array[];
    try {
      frames = reader.push(bytes);
    } catch (error) {
      close((error as Error).message);
      return;
    }
    if (early) {
      early.push(...frames);
      // A bounded wait: a session that never attaches should not let a peer fill memory.
      if (early.reduce((n, f) => n + f.length, 0) > 4 * MAX_FRAME_BYTES) close('peer sent too much before the session started');
      return;
    }
    for (const f of frames) for (const h of frameHandlers) h(f);
  });
  stream.onEnd((reason) => close(reason));
  return {
    send: (f) => stream.write(frame(f)),
    close,
    onFrame: (h) => {
      frameHandlers.push(h);
      if (early) {
        const pending = early;
        early = undefined;
        for (const f of pending) h(f);
      }
    },
    onClose: (h) => {
      closeHandlers.push(h);
      if (closed) queueMicrotask(() => h(closeReason));
    },
  };
}
