// The node tests' assertions: each check runs, prints ok/FAIL with its name, and is counted.
'use strict';
let passed = 0, failed = 0;

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log('ok: ' + name);
  } catch (e) {
    failed++;
    console.log('FAIL: ' + name + ': ' + (e.stack || e));
  }
}

// Prints the counts and exits: 1 when any check failed.
function finish() {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

module.exports = {check, finish};
