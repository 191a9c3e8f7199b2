export { type ChainState, decodeBucketChains, encodeBucketChains } from './chain-state.ts';
export { Replica, type ReplicaEvent, type ReplicaOptions, epochIdOf } from './replica.ts';
