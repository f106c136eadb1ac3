// STAND-IN for actions/cache (see action.yml): shared helpers.
"use strict";
const fs = require("fs");
const os = require("os");
const path = require("path");

function input(name) {
  return (process.env[`INPUT_${name.toUpperCase()}`] || "").trim();
}

function paths() {
  return input("path").split("\n").map((p) => p.trim()).filter(Boolean)
    .map((p) => (p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : path.resolve(p)));
}

function archive(key) {
  const root = process.env.STANDIN_CACHE_ROOT;
  if (!root) throw new Error("the cache stand-in needs STANDIN_CACHE_ROOT");
  const dir = path.join(root, "actions-cache");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, key.replace(/[^A-Za-z0-9._-]/g, "_") + ".tar");
}

function append(fileVar, line) {
  fs.appendFileSync(process.env[fileVar], line + os.EOL);
}

module.exports = { input, paths, archive, append };
