#!/usr/bin/env node
// The `meeting-artifacts` command: plain JavaScript built into dist/ by `pnpm build` (in this repository
// `pnpm install` builds it too; scripts/build-bin.mjs explains what the bundle holds).
try {
  await import("../dist/bin.js")
} catch (e) {
  if (e?.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("dist/bin.js")) throw e
  process.stderr.write("meeting-artifacts: dist/bin.js is missing: run `pnpm build` (or `pnpm install`) first\n")
  process.exit(2)
}
