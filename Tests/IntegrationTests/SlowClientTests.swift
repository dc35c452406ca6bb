import Foundation
import Hummingbird
import Testing
import TrainyardHTTP
import TrainyardObservability
import TrainyardTesting

#if canImport(Glibc)
    import Glibc
#endif

/// A client that trickles its request headers (slowloris; issue #13): the server closes the
/// connection at its header deadline instead of holding it as long as bytes keep coming.
@Suite("Slow clients")
struct SlowClientTests {
    /// A blocking loopback TCP connection; reads give up after `readTimeout` (the pace of the trickle).
    final class RawConnection {
        let descriptor: Int32

        init(port: Int, readTimeout: timeval) throws {
            descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            var timeout = readTimeout
            setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            guard connected == 0 else {
                close(descriptor)
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED)
            }
        }

        deinit { close(descriptor) }

        /// False once the peer has closed (or reset) the connection.
        func send(_ text: String) -> Bool {
            Array(text.utf8).withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } >= 0
        }

        enum Read {
            case closed, nothingYet
            case data(String)
        }

        func read() -> Read {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return .closed }
            if count < 0 { return errno == EAGAIN || errno == EWOULDBLOCK ? .nothingYet : .closed }
            return .data(String(decoding: buffer.prefix(count), as: UTF8.self))
        }
    }

    @Test("headers trickled a byte at a time: the server closes the connection at its header deadline, long before its idle timeout")
    func slowloris() async throws {
        let port = try Fleet.freePort()
        // An idle timeout far beyond this test's patience: only the header deadline can end the trickle.
        let server = ObservabilityServer.make(
            address: HTTPAddress(host: "127.0.0.1", port: port), registry: MetricsRegistry(), ready: { true },
            logger: TestEnvironment.logger("slowloris"), timeouts: HTTPTimeouts(requestHeaders: .seconds(1), idle: .seconds(3600)))
        let serving = Task { try await server.runService() }
        defer { serving.cancel() }
        let up = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/healthz"))?.0 == 200 }
        try #require(up, "the server never answered")

        let connection = try RawConnection(port: port, readTimeout: timeval(tv_sec: 0, tv_usec: 250_000))
        #expect(connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "))
        let giveUp = ContinuousClock.now + .seconds(120)
        var outcome = RawConnection.Read.nothingYet
        while ContinuousClock.now < giveUp {
            guard connection.send("a") else {
                outcome = .closed
                break
            }
            outcome = connection.read()
            if case .nothingYet = outcome { continue }
            break
        }
        switch outcome {
        case .closed: break
        case .nothingYet: Issue.record("the connection was still open after 120 s of trickled headers")
        case .data(let text): Issue.record("the server answered headers that never ended: \(text)")
        }
        #expect(try await Fleet.get(port: port, path: "/healthz").0 == 200, "the server still serves other clients")
    }

    @Test("a keep-alive connection serves one request after another while each one's headers arrive in time")
    func keepAliveUnaffected() async throws {
        let port = try Fleet.freePort()
        let server = ObservabilityServer.make(
            address: HTTPAddress(host: "127.0.0.1", port: port), registry: MetricsRegistry(), ready: { true },
            logger: TestEnvironment.logger("keep-alive"), timeouts: HTTPTimeouts(requestHeaders: .seconds(60), idle: .seconds(3600)))
        let serving = Task { try await server.runService() }
        defer { serving.cancel() }
        let up = try await eventually(timeout: .seconds(120)) { (try? await Fleet.get(port: port, path: "/healthz"))?.0 == 200 }
        try #require(up, "the server never answered")
        let connection = try RawConnection(port: port, readTimeout: timeval(tv_sec: 120, tv_usec: 0))
        for round in 1...3 {
            #expect(connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
            var answer = ""
            while !answer.hasSuffix("ok\n"), case .data(let text) = connection.read() { answer += text }
            #expect(answer.hasPrefix("HTTP/1.1 200"), "request \(round): \(answer)")
        }
    }
}
