// harness.js - what the browser scripts of the test suite share: the
// JSON config named on their command line (its screenshot directory
// made), one JSON line per check on stdout for the Python side to turn
// into TAP (reporter), a step whose exception becomes a failed check
// (stepper), and Debian's Chromium started headless through
// playwright-core (launch).
'use strict';
const fs = require('fs');
const { chromium } = require('playwright-core');

function config() {
  const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  fs.mkdirSync(cfg.screenshots, { recursive: true });
  return cfg;
}

// reporter - report(ok, name, detail); a prefix (the front end, say)
// goes in front of every name.
function reporter(prefix) {
  return (ok, name, detail) => {
    const shown = prefix ? `[${prefix}] ${name}` : name;
    process.stdout.write(JSON.stringify({ ok: !!ok, name: shown,
      detail: detail ? String(detail).slice(0, 2000) : undefined }) + '\n');
  };
}

function stepper(report) {
  return async (name, fn) => {
    try {
      await fn();
    } catch (e) {
      report(false, name, e.stack || e);
    }
  };
}

function launch(cfg) {
  return chromium.launch({ executablePath: cfg.chromium, args: ['--no-sandbox', '--headless'] });
}

module.exports = { config, reporter, stepper, launch };
