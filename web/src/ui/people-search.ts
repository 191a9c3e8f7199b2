/**
 * The people search of "Neuer Chat" and the chat list's filter: German names found however they are typed (the
 * matching lives in @schoolmesh/model, shared with the relay's school directory).
 */
export { foldGerman, foldPlain, matchesName } from '@schoolmesh/model';
