export { type ChainState, decodeChainState, encodeChainState } from './chain-state.ts';
export { Replica, type ReplicaEvent, type ReplicaOptions, epochIdOf } from './replica.ts';
