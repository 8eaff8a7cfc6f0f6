export * from "./ArtifactSet.js"
export * from "./Cue.js"
