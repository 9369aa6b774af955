// Writes the licence of every package the browser bundle contains (the production dependency tree
// of package-lock.json) into one file next to the bundle.
import { readFileSync, writeFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8'));
const out = ['Third-party software in this directory (built by scripts/build_webforms.sh from webforms/).', '',
  '@getodk/web-forms ships its own dependencies compiled into its files: @getodk/xforms-engine,',
  '@getodk/common, @getodk/tree-sitter-xpath and @getodk/xpath (Apache-2.0, the ODK project),',
  'PrimeVue, @primevue/core and @primeuix/themes (MIT, PrimeTek), web-tree-sitter (MIT, Max Brunsfeld)',
  'and Roboto fonts (Apache-2.0 / OFL-1.1, Google). Their licences are those of the packages below.', ''];
const names = Object.entries(lock.packages)
  .filter(([path, info]) => path.startsWith('node_modules/') && !info.dev)
  .sort(([a], [b]) => a.localeCompare(b));
for (const [path, info] of names) {
  const dir = path;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  out.push('='.repeat(78), `${pkg.name} ${pkg.version} — ${pkg.license || info.license || 'see below'}`, '');
  const file = existsSync(dir) && readdirSync(dir).find((f) => /^(licen[cs]e|copying|notice)/i.test(f));
  out.push(file ? readFileSync(join(dir, file), 'utf8').trim() : `(no licence file in the package; its package.json says ${pkg.license})`, '');
}
writeFileSync(process.argv[2], out.join('\n'));
console.log(`${names.length} packages' licences written to ${process.argv[2]}`);
