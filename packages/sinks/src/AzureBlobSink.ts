/**
 * Azure Blob Storage sink (placeholder while being implemented).
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { ContentSinkService } from "./ContentSink.js"
import type { RecordSinkService, WriteDisposition } from "./RecordSink.js"
import { SinkError } from "./SinkError.js"

export interface AzureBlobOptions {
  readonly container: string
  readonly prefix?: string | undefined
  readonly disposition?: WriteDisposition | undefined
  /** Defaults to AZURE_STORAGE_CONNECTION_STRING. */
  readonly connectionString?: string | undefined
  /** With `credential`: https://<account>.blob.core.windows.net (or AZURE_STORAGE_ACCOUNT_URL). */
  readonly accountUrl?: string | undefined
  readonly credential?: unknown
  readonly createContainer?: boolean | undefined
}

export const make = (
  _options: AzureBlobOptions
): Effect.Effect<RecordSinkService & { readonly content: ContentSinkService }, SinkError, Scope.Scope> =>
  Effect.fail(new SinkError({ sink: "azure-blob", operation: "make", message: "azure-blob: not implemented yet" }))
