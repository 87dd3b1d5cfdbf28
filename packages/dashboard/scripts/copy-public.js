// The dashboard's static files go beside its compiled modules in dist/ui (served at /ui).
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..', '..', '..');
fs.cpSync(path.join(__dirname, '..', 'public'), path.join(root, 'dist', 'ui'), { recursive: true });
