import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import TrainyardObservability

/// `host:port` to listen on.
public struct HTTPAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port` (`[::1]:8080` for IPv6).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard !host.isEmpty else { return nil }
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// How long a client may take before the server closes its connection.
public struct HTTPTimeouts: Sendable {
    /// From the connection's start, or the end of the previous response, to the end of the next
    /// request's headers (a client trickling header bytes, slowloris, gets no longer).
    public var requestHeaders: Duration
    /// Without a request or response moving (Hummingbird's idle timeout).
    public var idle: Duration

    public init(requestHeaders: Duration = .seconds(10), idle: Duration = .seconds(30)) {
        self.requestHeaders = requestHeaders
        self.idle = idle
    }
}

/// The endpoints every Trainyard process serves: `/metrics` (Prometheus text), `/healthz`
/// (the process answers) and `/readyz` (it can do its job: e.g. the consumer has joined).
public enum ObservabilityServer {
    /// Most connections open at once; beyond it the server stops accepting until one closes (the
    /// kernel's backlog holds the rest), so many or slow clients cannot exhaust file descriptors.
    public static let maxConnections = 512

    /// - Parameter configure: adds the process's own routes and middleware first (the aggregator's
    ///   HTTP API), so its middleware also covers these endpoints and unknown paths.
    public static func make(
        address: HTTPAddress, registry: MetricsRegistry, ready: @escaping @Sendable () async -> Bool, logger: Logger,
        timeouts: HTTPTimeouts = HTTPTimeouts(), configure: (Router<BasicRequestContext>) -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        configure(router)
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: registry.render())))
        }
        router.get("healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("readyz") { _, _ -> Response in
            let isReady = await ready()
            return Response(
                status: isReady ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: isReady ? "ready\n" : "not ready\n")))
        }
        // Hummingbird logs its own shutdown (task cancellation) as an error; what matters (e.g. a
        // port in use) is thrown from `run()` instead.
        var serverLogger = logger
        serverLogger.logLevel = .critical
        return Application(
            router: router,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: [RequestHeaderDeadline(deadline: .nanoseconds(Int64(timeouts.requestHeaders / .nanoseconds(1))))],
                    idleTimeout: .nanoseconds(Int64(timeouts.idle / .nanoseconds(1))))),
            configuration: ApplicationConfiguration(
                address: .hostname(address.host, port: address.port), serverName: "trainyard",
                availableConnectionsDelegate: MaximumAvailableConnections(maxConnections)),
            logger: serverLogger)
    }
}
