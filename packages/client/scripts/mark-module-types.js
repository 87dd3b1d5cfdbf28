// Each build folder says how Node should load its .js files (the package itself has no "type").
const fs = require('node:fs');
const path = require('node:path');
for (const [dir, type] of [['esm', 'module'], ['cjs', 'commonjs']]) {
  fs.writeFileSync(path.join(__dirname, '..', 'dist', dir, 'package.json'), `${JSON.stringify({ type })}\n`);
}
