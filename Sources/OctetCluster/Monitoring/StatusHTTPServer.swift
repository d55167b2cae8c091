import Foundation
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import Prometheus

/// The coordinator's HTTP endpoint: `GET /status` (the status JSON), `GET /metrics` (Prometheus
/// text format), `GET /ui` (the live page, `StatusPage`; `/` redirects there), `GET /healthz`
/// (200 while the message loop turns, 503 when it is stuck).
/// Read-only; anything else is 404 or 405.
public final class StatusHTTPServer: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let channel: any Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    /// Routes swift-metrics to Prometheus for this process (once; later calls are ignored).
    public static let registry: PrometheusCollectorRegistry = {
        let r = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: r))
        return r
    }()

    public init(host: String, port: Int, status: @escaping @Sendable () -> String,
                healthy: @escaping @Sendable () -> Bool = { true }) throws {
        let registry = Self.registry
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(status: status, healthy: healthy, metrics: { registry.emitToString() }))
                }
            }
            .bind(host: host, port: port).wait()
    }

    public func close() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let status: @Sendable () -> String
        let healthy: @Sendable () -> Bool
        let metrics: @Sendable () -> String
        var head: HTTPRequestHead?

        init(status: @escaping @Sendable () -> String, healthy: @escaping @Sendable () -> Bool, metrics: @escaping @Sendable () -> String) {
            self.status = status
            self.healthy = healthy
            self.metrics = metrics
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h): head = h
            case .body: break
            case .end:
                guard let h = head else { return }
                let path = h.uri.split(separator: "?").first.map(String.init) ?? h.uri
                let (code, type, body): (HTTPResponseStatus, String, String)
                if h.method != .GET { (code, type, body) = (.methodNotAllowed, "text/plain", "only GET\n") }
                else if path == "/status" { (code, type, body) = (.ok, "application/json", status() + "\n") }
                else if path == "/metrics" { (code, type, body) = (.ok, "text/plain; version=0.0.4", metrics()) }
                else if path == "/ui" { (code, type, body) = (.ok, "text/html; charset=utf-8", StatusPage.html) }
                else if path == "/" { (code, type, body) = (.seeOther, "text/plain", "see /ui\n") }
                else if path == "/healthz" {
                    (code, type, body) = healthy() ? (.ok, "text/plain", "ok\n") : (.serviceUnavailable, "text/plain", "message loop stuck\n")
                }
                else { (code, type, body) = (.notFound, "text/plain", "not found\n") }
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: type)
                headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                if code == .seeOther { headers.add(name: "Location", value: "/ui") }
                headers.add(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: h.version, status: code, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
                head = nil
            }
        }
    }
}
