#!/usr/bin/env node
// The package's bin: runs the bundled CLI (dist/bin/easel.js, built by `npm run build`; `npm ci`
// builds it through the prepare script).
import '../dist/bin/easel.js';
