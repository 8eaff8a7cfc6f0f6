/**
 * Sharding over TCP sockets with runners and messages stored in SQL: the part of
 * `@effect/platform-node/NodeClusterSocket.layer` this package uses, composed from the shared socket
 * protocol. That module also wires a Kubernetes health check on undici, which a bundle then loads into
 * every command of the CLI (~1 MB of code, its WebAssembly parser, 8 MB of start-up RSS) although a
 * runner pings its peers over the same sockets instead.
 */
import * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import { layerClientProtocol, layerSocketServer } from "@effect/platform-node-shared/NodeClusterSocket"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import * as Layer from "effect/Layer"

/** A runner (serves its shards, pings its peers) or, with `clientOnly`, a client that only sends. */
export const socketLayer = (options: {
  readonly clientOnly?: boolean
  readonly shardingConfig: Partial<ShardingConfig.ShardingConfig["Type"]>
}) => {
  const sharding = options.clientOnly === true
    ? Layer.provide(SocketRunner.layerClientOnly, layerClientProtocol)
    : Layer.provide(SocketRunner.layer, [layerSocketServer, layerClientProtocol]).pipe(
      Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(layerClientProtocol)))
    )
  return sharding.pipe(
    Layer.provideMerge(Layer.orDie(SqlMessageStorage.layer) as Layer.Layer<MessageStorage.MessageStorage>),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provide(ShardingConfig.layerFromEnv(options.shardingConfig)),
    Layer.provide(RpcSerialization.layerMsgPack)
  )
}
