export { type Role, accountRef } from '@schoolmesh/model';
export { fromBase64Url as fromBase64UrlSafe } from '@schoolmesh/wire';
