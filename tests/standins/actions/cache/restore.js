// STAND-IN for actions/cache (see action.yml): the main step restores.
"use strict";
const fs = require("fs");
const { execFileSync } = require("child_process");
const { input, archive, append } = require("./common");

const key = input("key");
const file = archive(key);
const hit = fs.existsSync(file);
if (hit) {
  execFileSync("tar", ["-xPf", file], { stdio: "inherit" });
  console.log(`cache stand-in: restored ${key} from ${file}`);
} else {
  console.log(`cache stand-in: no cache for ${key}`);
}
append("GITHUB_OUTPUT", `cache-hit=${hit}`);
append("GITHUB_STATE", `hit=${hit}`);
