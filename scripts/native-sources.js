#!/usr/bin/env node
// The native sources of the CPU addon, for binding.gyp (CMakeLists.txt globs the same folders).
// Usage: node scripts/native-sources.js  → one path per line, relative to the project root.
const fs = require('fs');
const path = require('path');
const root = path.resolve(__dirname, '..');
const dirs = ['native/core', 'native/cpu', 'native/addon', 'native/nccl'];
const files = dirs.flatMap((d) =>
  fs.existsSync(path.join(root, d))
    ? fs.readdirSync(path.join(root, d)).filter((f) => f.endsWith('.cc')).sort().map((f) => `${d}/${f}`)
    : []);
process.stdout.write(files.join('\n') + '\n');
