// STAND-IN for actions/cache (see action.yml): the post step saves when the key missed.
"use strict";
const fs = require("fs");
const { execFileSync } = require("child_process");
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
execFileSync("tar", ["-cPf", file + ".partial", ...present], { stdio: "inherit" });
fs.renameSync(file + ".partial", file);
console.log(`cache stand-in: saved ${present.join(", ")} as ${key}`);
