export * from "./Auth.js"
export * from "./Cli.js"
export * from "./CliExit.js"
export * from "./SyncCommand.js"
