export * as ClusterRunner from "./ClusterRunner.js"
export * from "./ClusterSync.js"
export * from "./ExportWorkflows.js"
export * as PostgresBudget from "./PostgresBudget.js"
