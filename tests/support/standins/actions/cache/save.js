// STAND-IN for actions/cache (see action.yml): the post step saves when the key missed.
"use strict";
const fs = require("fs");
const { spawnSync } = require("child_process");
const { input, paths, archive } = require("./common");

const key = input("key");
if (process.env.STATE_hit === "true") {
  console.log(`cache stand-in: ${key} was restored, not saving`);
  process.exit(0);
}
const present = paths().filter((p) => fs.existsSync(p));
if (present.length === 0) {
  console.log(`cache stand-in: nothing at ${input("path")} to save`);
  process.exit(0);
}
const file = archive(key);
// act's jobs share one HOME: another job may be writing into these paths while this one archives them (uv's
// temporary files come and go). GNU tar then exits 1 ("file changed as we read it"), which still wrote a usable
// archive; files that vanish are skipped. Anything else is a warning and no archive, as the real action's failed
// save is a warning that does not fail the job.
const tar = spawnSync("tar", ["--ignore-failed-read", "--warning=no-file-changed", "--warning=no-file-removed",
  "-cPf", file + ".partial", ...present], { stdio: "inherit" });
if (tar.status !== 0 && tar.status !== 1) {
  fs.rmSync(file + ".partial", { force: true });
  console.log(`::warning::cache stand-in: failed to save ${key}: tar exit ${tar.status}${tar.error ? `: ${tar.error.message}` : ""}`);
  process.exit(0);
}
fs.renameSync(file + ".partial", file);
console.log(`cache stand-in: saved ${present.join(", ")} as ${key}`);
