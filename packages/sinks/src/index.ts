/**
 * @meeting-artifacts/sinks: where exported meeting artifacts land.
 */
export * as AzureBlobSink from "./AzureBlobSink.js"
export * as CheckpointStore from "./CheckpointStore.js"
export * from "./ContentSink.js"
export * as Failures from "./Failures.js"
export * as FileSystemSink from "./FileSystemSink.js"
export * as Layout from "./Layout.js"
export * as Manifest from "./Manifest.js"
export * as ParquetSink from "./ParquetSink.js"
export * from "./RecordSink.js"
export * from "./SinkError.js"
export * from "./Sinks.js"
export * from "./SinkSpec.js"
export * as PostgresClient from "./PostgresClient.js"
export * as SqlRecordSink from "./SqlRecordSink.js"
export * as RunLock from "./RunLock.js"
