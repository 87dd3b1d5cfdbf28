// Preload (node -r): on exit, writes the node_modules packages this process loaded, one a
// line, to $TRACE_OUT. bench/device/prepare.sh packs them for a machine without npm.
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  const pkgs = new Set();
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
    if (m) pkgs.add(m[1]);
  }
  writeFileSync(process.env.TRACE_OUT, [...pkgs].sort().join('\n') + '\n');
});
