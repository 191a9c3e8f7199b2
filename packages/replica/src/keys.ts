/** Storage layout of a replica (docs/architecture.md, "Storage layout"). Numbers are zero-padded so that
 * string order is numeric order. */
export const pad = (n: number): string => n.toString().padStart(10, '0');

export const opKey = (group: string, id: string) => ['op', group, id];
export const opPrefix = (group?: string) => (group ? ['op', group] : ['op']);
export const heldKey = (group: string, id: string) => ['held', group, id];
export const heldPrefix = () => ['held'];
export const chainPrefix = (group?: string, bucket?: number) =>
  group === undefined ? ['ch'] : bucket === undefined ? ['ch', group] : ['ch', group, pad(bucket)];
export const entryKey = (group: string, bucket: number, author: string, seq: number) => ['en', group, pad(bucket), author, pad(seq)];
export const entryPrefix = (group: string, bucket?: number, author?: string) =>
  bucket === undefined ? ['en', group] : author === undefined ? ['en', group, pad(bucket)] : ['en', group, pad(bucket), author];
export const manifestKey = (group: string, author: string, issued: number) => ['mf', group, author, issued.toString().padStart(16, '0')];
export const manifestPrefix = (group?: string, author?: string) =>
  group === undefined ? ['mf'] : author === undefined ? ['mf', group] : ['mf', group, author];
