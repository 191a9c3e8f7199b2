// Node 20 lacks a few globals that libp2p 3 and browser-first code expect (Promise.withResolvers, WebSocket).
// The relay loads the same polyfills with `node --import`; see docs/architecture.md.
import '@schoolmesh/net-libp2p/node-polyfills';
