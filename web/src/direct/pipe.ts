import type { Stream } from '@libp2p/interface';

/**
 * Carries a libp2p stream's bytes to a MessagePort and back (the engine worker holds the other port): chunks as
 * transferred Uint8Arrays, `null` for the end, in both directions.
 */
export function pipeStreamToPort(stream: Stream, port: MessagePort): void {
  let ended = false;
  const end = (fromPort: boolean) => {
    if (ended) return;
    ended = true;
    if (!fromPort) port.postMessage(null);
    port.close();
    if (stream.status === 'open') stream.close().catch((error: Error) => stream.abort(error));
  };
  stream.addEventListener('message', (e) => {
    const chunk = e.data instanceof Uint8Array ? e.data.slice() : e.data.subarray().slice();
    if (!ended) port.postMessage(chunk, [chunk.buffer]);
  });
  stream.addEventListener('close', () => end(false));
  stream.addEventListener('remoteCloseWrite', () => end(false));
  port.onmessage = (e: MessageEvent<Uint8Array | null>) => {
    if (!(e.data instanceof Uint8Array)) return end(true);
    if (stream.writeStatus === 'writable') stream.send(e.data);
  };
  port.start();
}
