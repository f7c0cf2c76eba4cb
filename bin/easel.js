#!/usr/bin/env -S node --max-semi-space-size=8
// The package's bin: runs the bundled CLI (dist/bin/easel.js, built by `npm run build`; `npm ci`
// builds it through the prepare script). `npm start` runs this file, so its node flags are the
// server's (and the bench's, which reads them from this line):
// --max-semi-space-size=8: V8 keeps its young generation at the largest size a burst made it,
// 32 MiB by default, ~16 MiB of a server's resident memory for good; 8 keeps it at 16 MiB. The cost
// is a few per cent of CPU under heavy load (bench/, README "Performance").
import '../dist/bin/easel.js';
