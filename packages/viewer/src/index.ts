/**
 * @meeting-artifacts/viewer: a local, read-only web page over an export.
 */
export * as ExportIndex from "./ExportIndex.js"
export * as RunHistory from "./RunHistory.js"
export * from "./Viewer.js"
export * from "./ViewerError.js"
