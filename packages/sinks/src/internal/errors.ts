import { SinkError } from "../SinkError.js"

export const sinkError = (sink: string, operation: string) => (cause: unknown): SinkError =>
  new SinkError({
    sink,
    operation,
    message: `${sink}: ${operation} failed: ${describe(cause)}`,
    cause
  })

const describe = (cause: unknown): string => {
  if (cause instanceof Error) return cause.message
  if (typeof cause === "object" && cause !== null && "message" in cause) return String(cause.message)
  return String(cause)
}
