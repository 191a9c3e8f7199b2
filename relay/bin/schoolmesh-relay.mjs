#!/usr/bin/env node
// The relay runs from its TypeScript sources through tsx (no build step to forget on a school's box).
import { register } from 'tsx/esm/api';

register();
await import('@schoolmesh/net-libp2p/node-polyfills');
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
