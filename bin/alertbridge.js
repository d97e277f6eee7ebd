#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm ci` through the prepare script).
import('../dist/src/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/src/main.js')) {
    console.error('alertbridge is not built: run `npm ci` (or `npm run build`) in the project folder first.');
  } else {
    console.error(err);
  }
  process.exit(2);
});
