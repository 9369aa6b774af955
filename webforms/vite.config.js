// Builds Hamlet's browser bundle of ODK Web Forms into server/web/static/webforms/ (fixed file
// names, no hashes: the page links them by name and the build is committed).
import { defineConfig } from 'vite';

// The engine writes its styles as <style> elements at run time: its own CSS when it loads, a CSS
// reset when the plugin is installed, and PrimeVue's theme as components mount. The page's
// Content-Security-Policy admits only <style> elements that carry the page's nonce, so each of
// these gets it (read by src/nonce.js before the engine runs). The build stops if the engine's
// code no longer has what is patched here, so an upgrade cannot silently drop the nonce.
const NONCE = 'globalThis.__hamletStyleNonce';
const PATCHES = [
  ['@getodk/web-forms/dist/index.js', 'document.head.appendChild(r)',
    `(r.nonce=${NONCE}||"",document.head.appendChild(r))`],
  ['@getodk/web-forms/dist/index-', 'tA.textContent = resetStyles, document.head.prepend(tA)',
    `tA.nonce = ${NONCE} || "", tA.textContent = resetStyles, document.head.prepend(tA)`],
  ['@getodk/web-forms/dist/index-', 'eA.use(PrimeVue, { theme:',
    `eA.use(PrimeVue, { csp: { nonce: ${NONCE} || "" }, theme:`],
  ['@getodk/web-forms/dist/index-', 'wA = kA.nonce || fA;', `wA = kA.nonce || fA || ${NONCE};`],
];

function styleNonce() {
  const applied = new Set();
  return {
    name: 'hamlet-style-nonce',
    transform(code, id) {
      let out = code;
      PATCHES.forEach(([file, from, to], i) => {
        if (id.includes(file) && out.includes(from)) {
          out = out.split(from).join(to);
          applied.add(i);
        }
      });
      return out === code ? null : out;
    },
    buildEnd() {
      const missing = PATCHES.filter((_p, i) => !applied.has(i)).map(([, from]) => from);
      if (missing.length) this.error(`the engine no longer has: ${missing.join(' | ')}`);
    },
  };
}

export default defineConfig({
  plugins: [styleNonce()],
  define: { 'process.env.NODE_ENV': '"production"' },
  build: {
    outDir: '../server/web/static/webforms',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4000,
    lib: false,
    rollupOptions: {
      input: 'src/main.js',
      output: {
        format: 'es',
        entryFileNames: 'webforms.js',
        chunkFileNames: '[name].js',
        assetFileNames: '[name][extname]',
      },
    },
  },
});
