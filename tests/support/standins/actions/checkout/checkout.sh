#!/usr/bin/env bash
# STAND-IN for actions/checkout (see action.yml).
set -euo pipefail
remote="${STANDIN_GIT_REMOTE:?the checkout stand-in needs STANDIN_GIT_REMOTE (the test repository)}"
sha="${STANDIN_REF:-$GITHUB_SHA}"
if [ "$GITHUB_EVENT_NAME" = "pull_request" ] && [ -z "$STANDIN_REF" ]; then
  sha="$(python3 -c 'import json, os; print(json.load(open(os.environ["GITHUB_EVENT_PATH"]))["pull_request"]["head"]["sha"])')"
fi
cd "$GITHUB_WORKSPACE"
find . -mindepth 1 -maxdepth 1 -exec rm -rf {} +   # what act copied from the caller's directory
git init -q .
git remote add origin "$remote"
if [ "$STANDIN_DEPTH" = "0" ]; then
  git fetch -q origin '+refs/heads/*:refs/remotes/origin/*'
  git fetch -q origin "$sha"
else
  git fetch -q --depth "$STANDIN_DEPTH" origin "$sha"
fi
case "$GITHUB_EVENT_NAME" in
  push|workflow_dispatch) git checkout -q -B "$GITHUB_REF_NAME" "$sha" ;;
  *) git checkout -q --detach "$sha" ;;
esac
echo "checkout stand-in: $(git rev-parse HEAD) (depth ${STANDIN_DEPTH}) from $remote"
