/** The flags of `meeting-artifacts runner`. */
import { envName, flag } from "./flags.js"

export const runnerFlags = {
  cluster: flag("text", {
    name: "cluster",
    // The same variable as sync's --cluster: runners and submitters of one cluster share it.
    env: envName("cluster"),
    pseudo: "postgres url",
    description: "The cluster's Postgres: runners register there, and it holds the work and the checkpoint state.",
    required: "required"
  }),
  host: flag("text", {
    name: "host",
    env: envName("runner-host"),
    pseudo: "host",
    description: "The address the other runners reach this one at (a name or IP of this machine).",
    default: "127.0.0.1"
  }),
  port: flag("integer", {
    name: "port",
    env: envName("runner-port"),
    pseudo: "port",
    description: "TCP port for the other runners (0: any free port).",
    default: 0,
    check: (n: number) => (Number.isInteger(n) && n >= 0 && n <= 65535 ? undefined : "must be a port, 0-65535")
  }),
  listenHost: flag("text", {
    name: "listen-host",
    env: envName("runner-listen-host"),
    pseudo: "host",
    description: "The interface to listen on, when not --host (e.g. 0.0.0.0 in a container).",
    defaultText: "--host"
  })
} as const

export const runnerSummary = "Run one runner of a cluster (see sync --cluster)"

export const runnerDescription: ReadonlyArray<string> = [
  "Joins the cluster of runners sharing a Postgres database and runs the share of sync --cluster exports it is " +
  "assigned; another runner takes over the share of one that stops or dies. Start one per process or machine; " +
  "every runner must see the --out folders of the exports at the same path.",
  "Auth: the Graph credential of the tenant, from the same variables as sync (GRAPH_ACCESS_TOKEN, AZURE_*); for runs " +
  "of sync --tenants, each tenant's from the variable or certificate file its entry names (set them on every runner).",
  "Prints RUNNER_READY=<host>:<port> on stdout once it has joined; stops cleanly (handing its work over) on SIGTERM " +
  "or Ctrl-C.",
  "Exit codes: 2 bad arguments, no credential, or the cluster's Postgres or the port is unusable."
]
