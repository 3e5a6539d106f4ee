// Sealwire black-box (protocol 2) adapter for npm `libsignal` 6.0.0
// (conformance/ADAPTER-v2.md; README.md beside this file). The adapter
// logic is shared with the other fork's adapter
// (../v2_tools/libsignal_js_core.js); this file loads this directory's
// packages and passes them in.
'use strict';

const { main } = require('../v2_tools/libsignal_js_core.js');

main({
  lib: require('libsignal'),
  libName: 'libsignal',
  libVersion: require('libsignal/package.json').version,
  licence: require('libsignal/package.json').license,
  Reader: require('protobufjs/minimal').Reader,
  argv: process.argv.slice(2),
}).then(
  () => process.exit(0),
  (e) => {
    process.stderr.write(`adapter: ${e.stack || e}\n`);
    process.exit(2);
  },
);
