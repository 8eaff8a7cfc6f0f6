/**
 * Optional peer dependencies (database and storage drivers), imported on the
 * first use of the sink that needs them, so the default output (files and a
 * SQLite checkpoint) installs and loads none of them.
 */
import * as Effect from "effect/Effect"
import { SinkError } from "../SinkError.js"
import { sinkError } from "./errors.js"

const isModuleNotFound = (cause: unknown): boolean =>
  typeof cause === "object" && cause !== null && "code" in cause &&
  (cause.code === "ERR_MODULE_NOT_FOUND" || cause.code === "MODULE_NOT_FOUND")

/**
 * `load()` (a dynamic `import` of `pkg`), or a `SinkError` whose message names
 * the package to install when it is missing.
 */
export const loadDriver = <A>(sink: string, pkg: string, load: () => Promise<A>): Effect.Effect<A, SinkError> =>
  Effect.tryPromise({
    try: load,
    catch: (cause) =>
      isModuleNotFound(cause)
        ? new SinkError({
          sink,
          operation: "load driver",
          message: `the ${sink} sink needs the optional package ${pkg}, which is not installed: npm install ${pkg}`,
          cause
        })
        : sinkError(sink, "load driver")(cause)
  })
