/**
 * Commands that serve until stopped (view, emulator) end with exit code 0 when SIGINT or SIGTERM stops
 * them once they serve: the signal is their normal way to end. A signal that interrupts anything else (a
 * sync, a verify, a server still starting) ends with 130, so a supervisor can tell the two apart.
 *
 * Module state because the exit code is decided by the runtime's teardown, outside any Effect.
 */
import * as Effect from "effect/Effect"

let serving = false

/** Marks the program as serving: from now on a stop signal is a normal end. */
export const markServing: Effect.Effect<void> = Effect.sync(() => {
  serving = true
})

/** The exit code of a program interrupted by a signal. */
export const interruptedExitCode = (): number => (serving ? 0 : 130)
