/**
 * A local Microsoft Graph-compatible server for Teams meeting recordings and transcripts.
 */
export * from "./Counters.js"
export * as Emulator from "./Emulator.js"
export { type EmulatorOptions, EmulatorError, type RunningEmulator, startEmulator } from "./Emulator.js"
export type { RequestSeen } from "./internal/graph.js"
export type { Emulator as EmulatorHandle } from "./Emulator.js"
export * from "./Faults.js"
export * from "./Fixture.js"
export * from "./Generator.js"
export * from "./Notifications.js"
export * from "./Payloads.js"
export * from "./Policy.js"
export * from "./TokenEndpoint.js"
export { generatedBytes } from "./internal/content.js"
