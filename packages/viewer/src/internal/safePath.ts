/**
 * Resolving a path the manifest names to a file inside the export, and
 * nothing else: `..`, absolute paths, NULs, the state folder, and symlinks
 * (anywhere on the way) that lead out of the export are refused.
 */
import { Layout } from "@meeting-artifacts/sinks"
import * as fs from "node:fs"
import * as nodePath from "node:path"

const STATE_DIR = Layout.STATE_DIR

/** True when `child` is `root` itself or below it (both absolute, normalised). */
const isInside = (root: string, child: string): boolean => {
  const rel = nodePath.relative(root, child)
  return rel === "" || (!rel.startsWith("..") && !nodePath.isAbsolute(rel))
}

/**
 * The real path of the regular file `relative` names inside `rootReal` (the
 * export's real path), or null when it is missing, not a file, or anywhere
 * outside the export (after following every symlink) or in its state folder.
 */
export const resolveInside = (rootReal: string, relative: string): string | null => {
  if (relative === "" || relative.includes("\0") || nodePath.isAbsolute(relative)) return null
  const joined = nodePath.resolve(rootReal, relative)
  if (!isInside(rootReal, joined)) return null
  let real: string
  try {
    real = fs.realpathSync(joined)
  } catch {
    return null
  }
  if (!isInside(rootReal, real) || real === rootReal) return null
  const first = nodePath.relative(rootReal, real).split(nodePath.sep)[0]
  if (first === STATE_DIR) return null
  try {
    if (!fs.statSync(real).isFile()) return null
  } catch {
    return null
  }
  return real
}
