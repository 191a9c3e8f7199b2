import { type Plugin, defineConfig } from 'vite';

/**
 * Fills the service worker's precache list with every file the build emitted (hashed assets, the engine worker,
 * icons, the manifest) and versions its cache by them, so a new build replaces the old shell.
 */
function precache(): Plugin {
  return {
    name: 'schoolmesh-precache',
    apply: 'build',
    generateBundle(_options, bundle) {
      const sw = Object.values(bundle).find((f) => f.type === 'chunk' && f.fileName === 'sw.js');
      if (sw?.type !== 'chunk') return;
      const files = Object.keys(bundle)
        .filter((name) => name !== 'sw.js' && !name.endsWith('.map') && name !== 'index.html')
        .map((name) => `/${name}`)
        .sort();
      files.push('/icon.svg', '/manifest.webmanifest');
      let h = 2166136261;
      for (const c of files.join('\n')) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
      const version = (h >>> 0).toString(36);
      // The minifier may quote with ', " or `; the version token may sit inside a longer (folded) string.
      const list = /\[\s*(["'`])__SM_PRECACHE__\1\s*\]/;
      if (!list.test(sw.code) || !sw.code.includes('__SM_VERSION__')) this.error('sw.js: precache placeholders not found');
      sw.code = sw.code.replace(list, JSON.stringify(files)).replaceAll('__SM_VERSION__', version);
    },
  };
}

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  publicDir: 'public',
  plugins: [precache()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      input: { index: 'index.html', sw: 'src/sw/sw.ts' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  worker: {
    format: 'es',
  },
});
