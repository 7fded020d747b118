#!/bin/sh
# The image's command: the checks against one target, from inside the VPC (issue 17).
# The target is a file path (SYNTHETICS_TARGET), or the file's text (SYNTHETICS_TARGET_YAML), as the
# ECS task definition hands it over from SSM Parameter Store; the text is written to a private file
# and leaves the environment. Arguments go to pytest (e.g. -m triage). The exit status is the
# verdict's (README: Statuses and exit statuses); reports/ holds the verdict and the results.
set -eu
if [ -n "${SYNTHETICS_TARGET_YAML:-}" ]; then
  umask 077
  target=$(mktemp "${TMPDIR:-/tmp}/target.XXXXXX.yaml")
  printf '%s\n' "$SYNTHETICS_TARGET_YAML" >"$target"
  unset SYNTHETICS_TARGET_YAML
  SYNTHETICS_TARGET=$target
  export SYNTHETICS_TARGET
fi
: "${SYNTHETICS_TARGET:?set SYNTHETICS_TARGET (a target file) or SYNTHETICS_TARGET_YAML (its text)}"
exec python -m pytest -p no:cacheprovider --junitxml=reports/junit.xml "$@"
