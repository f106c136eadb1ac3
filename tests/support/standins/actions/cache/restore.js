// STAND-IN for actions/cache (see action.yml): the main step restores.
// In act's host mode every job shares this machine's HOME (on GitHub each job has its own runner), so jobs running
// in parallel would extract the same archive over each other's files, a binary one of them is running included.
// The extraction is therefore serialised (flock) and done once per HOME and key; the content is the same. Keys
// whose paths overlap (the gate's test tools inside the heavy tiers' ~/.cache/ghost-gitops) are extracted under
// different locks while other jobs run what is there (checkov's python: "Text file busy"), so a file already in
// this HOME is kept (--skip-old-files): in act's one HOME it is what an earlier job of the same runs wrote.
"use strict";
const fs = require("fs");
const os = require("os");
const { execFileSync } = require("child_process");
const { input, archive, append } = require("./common");

const key = input("key");
const file = archive(key);
const hit = fs.existsSync(file);
if (hit) {
  const marker = `${file}.restored-in-${os.homedir().replace(/[^A-Za-z0-9._-]/g, "_")}`;
  execFileSync("flock", [`${file}.lock`, "sh", "-c", 'test -f "$2" || { tar --skip-old-files -xPf "$1" && touch "$2"; }', "sh", file, marker],
    { stdio: "inherit" });
  console.log(`cache stand-in: restored ${key} from ${file}`);
} else {
  console.log(`cache stand-in: no cache for ${key}`);
}
append("GITHUB_OUTPUT", `cache-hit=${hit}`);
append("GITHUB_STATE", `hit=${hit}`);
