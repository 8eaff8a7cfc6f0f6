/**
 * Which failures stop the run and what the operator is told to do about them.
 */
import type { GraphError } from "@meeting-artifacts/api"
import { SyncFatalError } from "../SyncError.js"

export const FIX_ACCESS_POLICY =
  "a Teams admin must create and grant an application access policy for this app, e.g. in Teams PowerShell: " +
  "New-CsApplicationAccessPolicy -Identity MeetingArtifacts-Policy -AppIds \"<client id>\"; " +
  "Grant-CsApplicationAccessPolicy -PolicyName MeetingArtifacts-Policy -Identity \"<organizer id>\" (or -Global); " +
  "it takes up to 30 minutes to apply"

export const FIX_TRANSCRIPTS_DISABLED =
  "the tenant has switched off Graph access to meeting transcripts; a Teams admin must allow it again (tenant-wide setting) before transcripts can be exported"

export const FIX_PERMISSIONS =
  "grant the app the application permissions OnlineMeetingRecording.Read.All and OnlineMeetingTranscript.Read.All with admin consent " +
  "(and an application access policy for the organizers)"

export const FIX_UNAUTHORIZED =
  "the access token is invalid or expired: set a fresh GRAPH_ACCESS_TOKEN, or check AZURE_TENANT_ID / AZURE_CLIENT_ID / " +
  "AZURE_CLIENT_SECRET (or certificate) and that the token is for https://graph.microsoft.com"

export const FIX_PAYMENT =
  "recording and transcript content is a metered Graph API: the evaluation quota (600 minutes per month per app and tenant) " +
  "is used up or no billing is set up; link an Azure subscription to the app registration for metered Microsoft Graph APIs"

const describe = (e: GraphError): string => {
  const message = e.message
  switch (e._tag) {
    case "Unauthorized":
      return `Graph rejected the credentials (${message})`
    case "PaymentRequired":
      return `Graph refused metered content: payment required (${message})`
    case "Forbidden":
      return `Graph denied access (${message})`
    default:
      return message
  }
}

const fixFor = (e: GraphError): string | null => {
  switch (e._tag) {
    case "Unauthorized":
      return FIX_UNAUTHORIZED
    case "PaymentRequired":
      return FIX_PAYMENT
    case "Forbidden":
      return e.reason === "NoApplicationAccessPolicy"
        ? FIX_ACCESS_POLICY
        : e.reason === "TranscriptAccessDisabled"
        ? FIX_TRANSCRIPTS_DISABLED
        : FIX_PERMISSIONS
    default:
      return null
  }
}

/**
 * Errors that concern the whole app or tenant, not one item: 401, 402, and
 * 403 (a missing access policy, transcripts disabled; during discovery any
 * 403, which means missing permissions for the organizer).
 */
export const isFatal = (e: GraphError, during: "discovery" | "content"): boolean =>
  e._tag === "Unauthorized" ||
  e._tag === "PaymentRequired" ||
  (e._tag === "Forbidden" && (during === "discovery" || e.reason !== "Other"))

export const toFatal = (e: GraphError): SyncFatalError =>
  new SyncFatalError({
    message: describe(e).replace(/\s*\n\s*/g, " "),
    status: e.status === 0 ? null : e.status,
    code: e.innerCode ?? e.code ?? e._tag,
    requestId: e.requestId,
    fix: fixFor(e)
  })

/** The Graph code to record for a per-item failure. */
export const codeOf = (e: GraphError): string => e.innerCode ?? e.code ?? e._tag
