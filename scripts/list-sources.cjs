// Prints the C++ sources of the CPU addon for binding.gyp (gyp has no globs).
const fs = require('node:fs');
const path = require('node:path');
const root = path.resolve(__dirname, '..');
const dirs = ['cpp/engine', 'cpp/cpu', 'cpp/addon'];
const out = [];
function walk(dir) {
  for (const e of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) walk(rel);
    else if (e.name.endsWith('.cpp')) out.push(rel);
  }
}
for (const d of dirs) if (fs.existsSync(path.join(root, d))) walk(d);
console.log(out.sort().join(' '));
