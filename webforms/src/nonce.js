// Imported first, before the engine's modules run: the engine injects its styles as <style>
// elements, and the page's Content-Security-Policy admits only those that carry this page's nonce.
const root = document.getElementById('hamlet-webform');
globalThis.__hamletStyleNonce = root ? root.dataset.nonce || '' : '';
